/**
 * The data-import job of the demo, reusable by tests: FOLIO's failing data import (see
 * ../shared/seeds — on Eureka with a 3-minute AT, every record that began importing after
 * the AT expired failed with 401), scaled down to seconds against the reference server.
 *
 * - {@link login}: the FOLIO cookie login (`POST /authn/login-with-expiry`).
 * - {@link runImport}: posts the records in batches with whatever fetch it is given,
 *   simulating some processing per batch, and keeps going after failures, like the real job.
 * - {@link runMode}: one complete run (fresh login, optional Rotor session, import, server
 *   counters) as the demo's table shows it.
 */
import { createSession, type Session } from '../src/index.js'
import { cookieFetch, type AuthServer } from '../src/testing/index.js'

export type FetchLike = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>

export const TENANT = 'diku'
export const CREDENTIALS = { username: 'diku_admin', password: 'admin' } as const

/**
 * Logs in like Stripes does (`POST <url>/authn/login-with-expiry`, cookies) and returns the
 * answer, body unread, for `session.start()`. Throws unless the server answered 201.
 */
export async function login(fetch: FetchLike, url: string): Promise<Response> {
  const res = await fetch(`${url}/authn/login-with-expiry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'X-Okapi-Tenant': TENANT },
    body: JSON.stringify(CREDENTIALS),
  })
  if (res.status !== 201) {
    throw new Error(`login failed: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`)
  }
  return res
}

export interface ImportProgress {
  /** Records handled so far (imported + failed). */
  done: number
  imported: number
  failed: number
  total: number
  /** Outcome of the batch just handled: its HTTP status, or the error's code/name. */
  last: number | string
}

export interface ImportOptions {
  /** The fetch that sends the batches (a plain cookie jar, or `session.fetch`). */
  fetch: FetchLike
  /** Server base URL; batches go to `<url>/api/records`. */
  url: string
  /** Number of records to import. */
  records: number
  /** Records per batch (one POST each). */
  batch: number
  /**
   * Simulated processing time per batch, in ms: a fixed value or a `[min, max]` range
   * (drawn from a seeded PRNG, so every run of a demo gets the same delays).
   * @default [150, 250]
   */
  processingMs?: number | readonly [number, number]
  /** Seed of the processing-time PRNG. @default 1 */
  seed?: number
  /** Called after every batch. */
  onProgress?: (progress: ImportProgress) => void
}

export interface ImportResult {
  /** Records in batches the server accepted (2xx). */
  imported: number
  /** Records in batches that failed (non-2xx answer, or the request threw). */
  failed: number
  /** Batches per outcome: HTTP status (`'200'`, `'401'`, …) or error code/name when the request threw. */
  statuses: Record<string, number>
  /** Wall time of the import in ms (login excluded). */
  durationMs: number
  /** ms from the start of the import to the first failed batch; `null` if none failed. */
  firstFailureMs: number | null
}

/** mulberry32: tiny deterministic PRNG in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

function outcomeOf(error: unknown): string {
  if (error && typeof error === 'object') {
    const { code, name } = error as { code?: unknown; name?: unknown }
    if (typeof code === 'string') return code
    if (typeof name === 'string') return name
  }
  return 'error'
}

/**
 * Imports `records` fake MARC records in batches of `batch`: for each batch, simulates the
 * processing, then `POST <url>/api/records` with the batch as a JSON array. A failed batch
 * counts all its records as failed and the job goes on to the next one, as FOLIO's does.
 */
export async function runImport(options: ImportOptions): Promise<ImportResult> {
  const { fetch, url, records, batch, onProgress } = options
  if (!Number.isInteger(records) || records < 0) throw new TypeError('runImport: records must be an integer >= 0')
  if (!Number.isInteger(batch) || batch < 1) throw new TypeError('runImport: batch must be an integer >= 1')
  const processing = options.processingMs ?? [150, 250]
  const [min, max] = typeof processing === 'number' ? [processing, processing] : processing
  const random = prng(options.seed ?? 1)

  const statuses: Record<string, number> = {}
  let imported = 0
  let failed = 0
  let firstFailureMs: number | null = null
  const started = performance.now()

  for (let first = 0; first < records; first += batch) {
    const size = Math.min(batch, records - first)
    const items = Array.from({ length: size }, (_, i) => ({
      id: `rec-${String(first + i + 1).padStart(6, '0')}`,
      leader: '00714cam a2200205 a 4500',
      title: `Imported record ${first + i + 1}`,
    }))
    await sleep(min + (max - min) * random())

    let outcome: number | string
    try {
      const res = await fetch(`${url}/api/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'X-Okapi-Tenant': TENANT },
        body: JSON.stringify(items),
      })
      await res.arrayBuffer() // release the connection
      outcome = res.status
    } catch (error) {
      outcome = outcomeOf(error)
    }
    statuses[outcome] = (statuses[outcome] ?? 0) + 1
    if (typeof outcome === 'number' && outcome >= 200 && outcome < 300) {
      imported += size
    } else {
      failed += size
      firstFailureMs ??= performance.now() - started
    }
    onProgress?.({ done: imported + failed, imported, failed, total: records, last: outcome })
  }
  return { imported, failed, statuses, durationMs: performance.now() - started, firstFailureMs }
}

export type Mode = 'plain' | 'request' | 'timer'
export const MODES: readonly Mode[] = ['plain', 'request', 'timer']
export const MODE_LABELS: Record<Mode, string> = {
  plain: 'plain fetch',
  request: 'Rotor, request mode',
  timer: 'Rotor, timer mode',
}

export interface RunOptions extends Omit<ImportOptions, 'fetch' | 'url'> {
  /** The reference server (its counters are reset at the start of the run). */
  server: AuthServer
  /** Its URL (as `listen()` returned it). */
  url: string
}

export interface RunResult extends ImportResult {
  mode: Mode
  label: string
  records: number
  /** Server counters for this run (login included). */
  refreshCalls: number
  api401: number
  reusedRefused: number
}

/**
 * One run of the demo: resets the server's counters, logs a fresh simulated browser in and
 * imports with its plain fetch (`'plain'`) or with a Rotor session started from the login
 * answer (`'request'`/`'timer'` rotation). The session is disposed at the end.
 */
export async function runMode(mode: Mode, options: RunOptions): Promise<RunResult> {
  const { server, url, ...job } = options
  server.resetStats()
  const jar = cookieFetch()
  const answer = await login(jar, url)
  let session: Session | undefined
  let fetch: FetchLike = jar
  if (mode === 'plain') {
    await answer.arrayBuffer()
  } else {
    session = createSession({
      scope: url,
      rotation: mode,
      fetch: jar,
      headers: { 'X-Okapi-Tenant': TENANT },
      crossTab: false,
    })
    await session.start(answer)
    fetch = session.fetch.bind(session)
  }
  try {
    const result = await runImport({ ...job, fetch, url })
    const { refreshCalls, api401, reusedRefused } = server.stats
    return { mode, label: MODE_LABELS[mode], records: job.records, ...result, refreshCalls, api401, reusedRefused }
  } finally {
    session?.dispose()
  }
}
