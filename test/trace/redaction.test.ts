/**
 * The redaction scan: a long run of both transports (rotations, 401 replays, refused and
 * failing refreshes, two tabs, logout) collects every trace entry, through `debug: fn`, the
 * `trace` event and `session.trace({ tabs: true })`, and finds no text of any token the
 * server issued; URLs in entries carry no query.
 */
import { afterEach, expect, it, vi } from 'vitest'
import { TRACE_KINDS } from '../../src/trace/kinds.js'
import { TraceRecorder, type TraceEntry } from '../../src/trace/recorder.js'
import { AuthModel } from '../../src/testing/model.js'
import { browserTabs, startEnv, waitFor, type Env } from '../helpers/index.js'
import { TokenScan } from '../setup/token-scan.js'
import { NOT_WIRED } from './not-wired.js'

type Minted = { accessToken: string; refreshToken: string }
let env: Env | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  await env?.close()
})

/** Every token the reference server mints from now on. */
function issuedTokens(): string[] {
  const tokens: string[] = []
  const model = AuthModel.prototype as unknown as { mint: (...a: unknown[]) => Promise<Minted> }
  const mint = model.mint
  vi.spyOn(model, 'mint').mockImplementation(async function (this: unknown, ...args: unknown[]) {
    const minted = await mint.apply(this, args)
    tokens.push(minted.accessToken, minted.refreshToken)
    return minted
  })
  return tokens
}

it.each(['cookie', 'bearer'] as const)('%s: no entry of a long run carries token text, and no URL a query', async transport => {
  const tokens = issuedTokens()
  env = await startEnv({ accessTokenTtl: 20_000 })
  const entries: TraceEntry[] = []
  const browser = browserTabs(env, { ...(transport === 'bearer' ? { transport } : {}), debug: e => entries.push(e) })
  const [a, b] = [browser.open(), browser.open()]
  const heard: TraceEntry[] = []
  a.on('trace', e => heard.push(e))
  await browser.start(a)
  await waitFor(() => b.state.status === 'active')
  // 401 replays, with the AT in the query as some APIs take it.
  for (let i = 0; i < 2; i++) {
    env.server.revokeAccessTokens()
    const at = tokens.at(-2)!
    expect((await a.fetch(`${env.url}/api/items?key=${at}&page=${i}`)).status, JSON.stringify([i, env.server.stats])).toBe(200)
  }
  for (let i = 0; i < 3; i++) await (i % 2 ? a : b).rotate()
  // A failing refresh (a rotate-error), then a refused one (the session ends).
  env.server.fault('refresh', { status: 503, times: 1 })
  await a.rotate().catch(() => undefined)
  const merged = await b.trace({ tabs: true, timeout: 1_000 })
  env.server.fault('refresh', { status: 401, times: 1 })
  await b.rotate().catch(() => undefined)
  await a.logout().catch(() => undefined)
  const texts = [entries, heard, merged, a.trace(), b.trace()]

  const scan = new TokenScan()
  tokens.forEach(token => scan.addToken(token))
  texts.forEach((text, i) => scan.recordEvent({ kind: `text ${i}`, test: 'redaction' }, text))
  expect(env.server.stats.api401).toBe(2)
  expect(tokens.length).toBeGreaterThanOrEqual(10)
  expect(scan.check()).toEqual([])
  for (const entry of entries) if ('url' in entry) expect(String(entry['url'])).not.toMatch(/[?#]/)
  // Once any decision point is wired, the run records entries (an empty run would prove nothing).
  if (NOT_WIRED.size < Object.keys(TRACE_KINDS).length) expect(entries.length).toBeGreaterThan(10)
  // The scan itself finds a token wherever it is (the check above can fail).
  const planted = new TokenScan()
  tokens.forEach(token => planted.addToken(token))
  planted.recordEvent({ kind: 'planted', test: 'redaction' }, { ...merged, note: tokens[3] })
  expect(planted.check()).toHaveLength(1)
})

it('the recorder cuts the query and fragment off any `url` field, before any sink sees it', () => {
  const seen: TraceEntry[] = []
  const recorder = new TraceRecorder('tab', { now: () => 1, session: undefined, size: 5, sinks: [e => seen.push(e)] })
  recorder.record('request-replayed', { method: 'GET', url: 'https://api.example/items?access_token=eyJhbGciOi.x.y#frag' })
  recorder.record('request-parked', { method: 'GET', url: new URL('https://api.example/a?code=secret') })
  expect(seen.map(e => e['url'])).toEqual(['https://api.example/items', 'https://api.example/a'])
  expect(recorder.entries()).toEqual(seen)
})
