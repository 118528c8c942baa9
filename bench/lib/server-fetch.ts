/**
 * The reference server's model (`server.handle`) behind an in-memory fetch and an axios
 * adapter: no sockets, no msw, so a simulated hour runs in seconds on a clock the bench moves.
 */
import { AxiosError, AxiosHeaders, type AxiosAdapter, type AxiosResponse } from 'axios'
import type { AuthServer } from '../../src/testing/index.js'

const NULL_BODY = new Set([101, 103, 204, 205, 304])

export type ServerFetch = typeof fetch & {
  /** Requests the model is still working on (it signs and verifies JWTs asynchronously). */
  readonly inflight: number
}

/**
 * `latency`: the round trip in ms, half on the way there and half back, waited on
 * globalThis.setTimeout (the simulated clock's, while it is installed).
 */
export function serverFetch(server: AuthServer, latency = 0): ServerFetch {
  let inflight = 0
  const wait = (ms: number) => (ms > 0 ? new Promise<void>(resolve => setTimeout(resolve, ms)) : undefined)
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init)
    await wait(latency / 2)
    const url = new URL(request.url)
    inflight++
    let outcome
    try {
      outcome = await server.handle({
        method: request.method,
        path: url.pathname + url.search,
        headers: request.headers,
        body: await request.text(),
      })
    } finally {
      inflight--
    }
    if (outcome.type !== 'response') throw new TypeError('fetch failed')
    await wait(latency / 2)
    const { status, headers, body } = outcome.response
    return new Response(NULL_BODY.has(status) ? null : body, { status, headers })
  }
  return Object.defineProperty(fetchImpl, 'inflight', { get: () => inflight }) as ServerFetch
}

/** An axios adapter over an in-memory fetch; like axios' own adapters it applies validateStatus. */
export function fetchAdapter(fetchImpl: typeof fetch): AxiosAdapter {
  return async config => {
    const headers = new Headers()
    for (const [name, value] of Object.entries(AxiosHeaders.from(config.headers).toJSON())) {
      if (value !== undefined && value !== null) headers.set(name, String(value))
    }
    const url = new URL(config.url ?? '', config.baseURL)
    const init: RequestInit = { method: (config.method ?? 'get').toUpperCase(), headers }
    if (config.data !== undefined && config.data !== null) init.body = config.data as BodyInit
    const res = await fetchImpl(url, init)
    const response: AxiosResponse = {
      data: await res.text(),
      status: res.status,
      statusText: res.statusText,
      headers: Object.fromEntries(res.headers),
      config,
      request: {},
    }
    const validate = config.validateStatus
    if (!validate || validate(res.status)) return response
    throw new AxiosError(`Request failed with status code ${res.status}`, AxiosError.ERR_BAD_REQUEST, config, {}, response)
  }
}
