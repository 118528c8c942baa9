/**
 * Server-sent events through `session.fetch` (`createEventStream`) against the reference
 * server's SSE endpoint: the stream outlives its ATs, resumes with Last-Event-ID, recovers
 * from a revoked token through the session's 401 handling, and ends with the session.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createEventStream, type RotorEventStream } from '../../src/socket/index.js'
import { createSocketFace, type SocketFace } from '../../src/testing/index.js'
import { sleep, startEnv, waitFor, type Env } from '../helpers/index.js'

const AT = 1000
let env: Env | undefined
let face: SocketFace | undefined
const streams: RotorEventStream[] = []

afterEach(async () => {
  for (const s of streams.splice(0)) s.close()
  await face?.close()
  await env?.close()
  env = face = undefined
})

/** A bearer session on `<url>/api` and a stream of channel `a` under it; ids received in order. */
async function setup(serverOptions: Parameters<typeof startEnv>[0], sessionOptions: Parameters<Env['bearer']>[0] = {}) {
  env = await startEnv(serverOptions)
  // Under the bearer session's scope, so session.fetch authorises it.
  face = await createSocketFace(env.server, { ssePath: '/api/events' })
  const session = await env.bearer(sessionOptions)
  const stream = createEventStream(session, { url: `${env.url}/api/events?channel=a`, backoff: { initial: 20, max: 100 } })
  streams.push(stream)
  const ids: number[] = []
  const closes: string[] = []
  stream.on('event', event => ids.push(Number(event.id)))
  stream.on('close', ({ reason }) => closes.push(reason))
  await waitFor(() => face!.stats.sseStreams === 1)
  return { session, stream, ids, closes, server: env.server, face: face! }
}

describe('server-sent events through session.fetch', () => {
  test('5 AT lifetimes of 1 s: every event once, refreshes within 1.3x the minimum, a stream per generation, no reuse', async () => {
    const { ids, server, face } = await setup({ accessTokenTtl: AT, refreshTokenTtl: 60_000 }, { rotation: 'timer', rotateAt: 0.85 })
    const startedAt = Date.now()
    let published = 0
    while (Date.now() - startedAt < 5.5 * AT) {
      face.publish('a', { n: ++published })
      await sleep(10)
    }
    const elapsed = Date.now() - startedAt
    await waitFor(() => expect(ids).toEqual(Array.from({ length: published }, (_, i) => i + 1)))
    const minimum = Math.ceil(elapsed / AT) - 1
    console.log(
      `[sse] ${elapsed} ms: refreshes ${server.stats.refreshGranted} (minimum ${minimum}), streams ${face.stats.sseStreams}, refused ${face.stats.sseRefused}, cut ${face.stats.closedUnauthorized}, published ${published}, deliveries ${face.stats.deliveries}`,
    )
    // Each rotation moves the stream to the new token before the server cuts it, unless the
    // load made it late by more than the 150 ms left: then the stream is cut, its reconnect
    // may be answered 401 once (the server's clock is ahead of the client's by the latency),
    // and session.fetch rotates nothing more: it already holds the new AT, or joins the rotation.
    expect(face.stats.sseRefused).toBeLessThanOrEqual(face.stats.closedUnauthorized)
    // A stream per generation, plus one per cut at most (a cut may also hit a stream the
    // client had already left for the new token, before the server saw it close).
    expect(face.stats.sseStreams).toBeGreaterThanOrEqual(server.stats.refreshGranted + 1)
    expect(face.stats.sseStreams).toBeLessThanOrEqual(server.stats.refreshGranted + 1 + face.stats.closedUnauthorized)
    expect(server.stats).toMatchObject({ reusedRefused: 0, refreshRefused: 0 })
    expect(server.stats.refreshGranted).toBeGreaterThanOrEqual(minimum)
    expect(server.stats.refreshGranted).toBeLessThanOrEqual(Math.floor(1.3 * minimum))
  }, 20_000)

  test('the AT is revoked mid-stream: the server ends it, the stream reports the refusal, the session rotates before the reconnect, the stream resumes where it was', async () => {
    const { ids, server, face } = await setup({ accessTokenTtl: 60_000 }, { rotation: 'request' })
    face.publish('a', 1)
    face.publish('a', 2)
    await waitFor(() => ids.length === 2)
    server.revokeAccessTokens()
    await waitFor(() => face.stats.closedUnauthorized === 1)
    // Published while no stream is open: resumed with Last-Event-ID.
    face.publish('a', 3)
    await waitFor(() => face.stats.sseStreams === 2)
    face.publish('a', 4)
    await waitFor(() => ids.length === 4)
    expect(ids).toEqual([1, 2, 3, 4])
    // `event: unauthorized` is reported (authFailed): the reconnect already carries the new
    // token, so no request is refused (before, the reconnect's 401 made the rotation).
    expect(face.stats.sseRefused).toBe(0)
    expect(server.stats).toMatchObject({ refreshGranted: 1, reusedRefused: 0 })
    const refresh = server.log.findIndex(e => e.route === 'refresh' && e.status === 201)
    expect(face.log.filter(e => e.kind === 'sse')[1]!.httpIndex).toBeGreaterThan(refresh)
  })

  test('logout ends the stream for good', async () => {
    const { session, closes, face } = await setup({ accessTokenTtl: 60_000 })
    await session.logout()
    expect(closes).toEqual(['rotor-auth: session ended (user)'])
    await waitFor(() => face.open === 0)
    await sleep(300)
    expect(face.stats.sseStreams).toBe(1)
  })
})
