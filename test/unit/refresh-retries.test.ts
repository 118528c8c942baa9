/** The refresh call's own retries (src/core/refresh-call.ts, which ky made before): a coded error per failed attempt, delays on the session's timers. */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, test } from 'vitest'
import { callRefresh } from '../../src/core/refresh-call.js'
import type { RefreshCall } from '../../src/core/refresh.js'
import { isRotorError } from '../../src/errors.js'

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(s => new Promise(resolve => s.close(resolve))))
})

/** Answers 503 with `retry-after: 10` until `failures` are spent, then a grant; counts the RTs it saw. */
async function flaky(failures: number) {
  const seen: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', chunk => (body += chunk))
    req.on('end', () => {
      seen.push(body)
      if (seen.length <= failures) return void res.writeHead(503, { 'retry-after': '10' }).end('down')
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'at-2', refresh_token: 'rt-2', expires_in: 60 }))
    })
  })
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/token`), seen }
}

/** A call whose timers fire at once, recording what they were asked to wait (virtual time: no real 10 s wait). */
function call(url: URL, retries: number) {
  const waits: number[] = []
  const reported: unknown[] = []
  const c: RefreshCall = {
    spec: { kind: 'url', url, style: 'json', clientId: undefined },
    fetch: (input, init) => fetch(input, init),
    headers: new Headers(),
    credentials: undefined,
    refreshToken: 'rt-1',
    signal: new AbortController().signal,
    now: () => 0,
    random: () => 0.5,
    timeout: 5_000,
    retries,
    clock: {
      after: (ms, fn) => {
        // The attempt's own give-up timers are long; only the retry delay (Retry-After, 10 s) fires at once.
        if (ms === 10_000) {
          waits.push(ms)
          queueMicrotask(fn)
        }
        return { cancel: () => undefined }
      },
    },
    onRetry: error => reported.push(error),
  }
  return { c, waits, reported }
}

test("a 503's Retry-After is waited on the session's timers, and each failed attempt is a coded RotorError without the RT", async () => {
  const server = await flaky(2)
  const { c, waits, reported } = call(server.url, 2)
  const tokens = await callRefresh(c)
  expect(tokens.refreshToken).toBe('rt-2')
  expect(server.seen).toEqual(Array(3).fill(JSON.stringify({ refreshToken: 'rt-1' })))
  expect(waits).toEqual([10_000, 10_000])
  expect(reported).toHaveLength(2)
  for (const error of reported as Array<{ name: string; code: string; response: Response; request: Request; options: { body?: unknown } }>) {
    expect(isRotorError(error)).toBe(true)
    expect(error).toMatchObject({ name: 'HTTPError', code: 'ERR_REFRESH_HTTP' })
    expect(error.response.status).toBe(503)
    expect(error.options.body).toBeUndefined()
    expect(await error.request.text()).toBe('')
  }
})

test('past its retries the last 503 is thrown, and the server saw the RT retries + 1 times', async () => {
  const server = await flaky(5)
  const { c, reported } = call(server.url, 1)
  await expect(callRefresh(c)).rejects.toMatchObject({ name: 'HTTPError', code: 'ERR_REFRESH_HTTP', response: { status: 503 } })
  expect(server.seen).toHaveLength(2)
  expect(reported).toHaveLength(1)
})
