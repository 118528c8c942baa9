/**
 * The token scan (test/setup/token-scan*.ts) can fail: a token the reference server issued,
 * or 16 characters of one, put into an event or an error is reported, naming the event or
 * error and the test; redacted text is not. Each test scans into its own TokenScan and puts
 * the file's back, so this file's own scan stays clean.
 */
import { afterEach, beforeEach, expect, test } from 'vitest'
import { RefreshRefusedError, RotationError, SessionExpiredError } from '../../src/index.js'
import { createAuthServer } from '../../src/testing/index.js'
import { Emitter } from '../../src/utils/emitter.js'
import { excerpt } from '../../src/utils/redact.js'
import { record, startEnv } from '../helpers/index.js'
import { swapScan, TokenScan, WINDOW } from '../setup/token-scan.js'

let scan: TokenScan
let fileScan: TokenScan
beforeEach(() => {
  scan = new TokenScan()
  fileScan = swapScan(scan)
})
afterEach(() => {
  swapScan(fileScan)
})

/** A real pair from the reference server, recorded by the setup file's hook on its minting. */
async function issued() {
  const server = createAuthServer()
  const { accessToken, refreshToken } = await server.issue()
  await server.close()
  return { accessToken, refreshToken }
}

test("the reference server's tokens are known to the scan without the test saying so", async () => {
  await issued()
  expect(scan.tokensKnown).toBe(2)
})

test('an issued RT in an event payload is reported with the event name and the test', async () => {
  const { refreshToken } = await issued()
  new Emitter<{ 'rotate-error': unknown }>().emit('rotate-error', { willRetry: false, note: `spent ${refreshToken}` })
  const hits = scan.check()
  expect(hits).toHaveLength(1)
  expect(hits[0]!.origin).toEqual({ kind: "event 'rotate-error'", test: expect.stringContaining('an issued RT in an event payload') })
  expect(hits[0]!.token).toBe('RT')
  // The report names where, never the token: at most 6 characters of it.
  expect(hits[0]!.match.length).toBeLessThan(WINDOW)
})

test("an issued AT deep in an error's cause chain is reported, the error caught by the hook on construction", async () => {
  const { accessToken } = await issued()
  const inner = new TypeError(`Headers.set: invalid value ${accessToken}`)
  new RotationError('rotor-auth: refreshing kept failing', { cause: new Error('wrapped', { cause: inner }) })
  expect(scan.check().map(h => h.origin.kind)).toEqual(['error RotationError'])
})

test('a subclass field set after the base constructor (RefreshRefusedError.body) is scanned too', async () => {
  const { refreshToken } = await issued()
  // The hook sees the error before `body` is set; the scan reads it at the end.
  const error = new RefreshRefusedError(400, 'x')
  ;(error as unknown as { body: string }).body = refreshToken
  expect(scan.check()).toHaveLength(1)
})

test(`${WINDOW} characters of a signature or of a payload are a hit; ${WINDOW - 1} are not`, async () => {
  const { accessToken, refreshToken } = await issued()
  const signature = accessToken.split('.')[2]!
  const payload = refreshToken.split('.')[1]!
  new SessionExpiredError('rejected', `…${signature.slice(5, 5 + WINDOW - 1)}…`)
  expect(scan.check()).toHaveLength(0)
  new SessionExpiredError('rejected', `…${signature.slice(5, 5 + WINDOW)}…`)
  new SessionExpiredError('rejected', `…${payload.slice(40, 40 + WINDOW)}…`)
  expect(scan.check().map(h => h.part)).toEqual(['signature', 'payload'])
})

test('the same token redacted by excerpt() is not a hit', async () => {
  const { accessToken, refreshToken } = await issued()
  const body = excerpt(`access_token=${accessToken}&refresh_token=${refreshToken}`)
  new RefreshRefusedError(400, body)
  new Emitter<{ e: unknown }>().emit('e', { body })
  expect(scan.payloadsRecorded).toBe(2)
  expect(scan.check()).toEqual([])
})

test("a 503 from the refresh endpoint: rotate-error's HTTPError keeps its status, not the RT in its request options and request", async () => {
  // Found by the scan across test/session: each transient rotate-error's error had
  // `options.body` = `{"refreshToken":"<the RT>"}`, and a request whose body was the same.
  const env = await startEnv({ accessTokenTtl: 60_000 })
  try {
    const session = await env.bearer({ refreshRetries: 1 })
    const log = record(session)
    env.server.fault('refresh', { status: 503, times: 2 })
    await session.rotate().catch(() => undefined)
    const errors = log.of('rotate-error').map(e => e['error'] as { response: Response; request: Request; options: { body?: unknown } })
    expect(errors.length).toBeGreaterThan(0)
    for (const error of errors) {
      expect(error.response.status).toBe(503)
      expect(error.options.body ?? undefined).toBeUndefined()
      expect(await error.request.text()).toBe('')
    }
    expect(env.server.stats.refreshCalls).toBeGreaterThanOrEqual(2)
    expect(scan.tokensKnown).toBeGreaterThanOrEqual(2)
    expect(scan.check()).toEqual([])
  } finally {
    await env.close()
  }
})

test('a log line carrying an issued AT is reported', async () => {
  const { accessToken } = await issued()
  console.warn('retrying with', `Bearer ${accessToken}`)
  // Its payload begins like the RT's (one user): the hit is named by a run only the AT has.
  expect(scan.check().map(h => [h.origin.kind, h.token])).toEqual([['console.warn', 'AT']])
})
