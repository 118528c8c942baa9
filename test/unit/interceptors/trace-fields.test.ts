/** A parked and released request's trace entry is built as one object, its fields in their final order (what a 100,000-request release pays per request). */
import { afterAll, expect, test } from 'vitest'
import type { TraceEntry } from '../../../src/trace/recorder.js'
import { startEnv, type Env } from '../../helpers/index.js'

const AT_TTL = 20_000
const envs: Env[] = []
afterAll(async () => {
  for (const env of envs) await env.close()
})

test('a request parked behind a rotation is traced parked then released, fields in one order, and reaches the server once', async () => {
  const env = await startEnv({ accessTokenTtl: AT_TTL, refreshTokenTtl: 6 * AT_TTL })
  envs.push(env)
  const entries: TraceEntry[] = []
  let skew = 0
  const session = await env.bearer({
    debug: entry => entries.push(entry),
    rotation: 'request',
    platform: { now: () => Date.now() + skew, monotonic: () => performance.now() + skew },
  })
  skew = AT_TTL - 500
  expect((await session.fetch(`${env.url}/api/parked?q=1`)).status).toBe(200)
  const keys = (kind: string) => Object.keys(entries.find(e => e.kind === kind) ?? {})
  // The caller's fields follow the recorder's own (at, tab, seq, kind) in the order they were
  // written: one literal. Grown field by field, the released entry read `waitedMs, method, url`.
  expect(keys('request-parked')).toEqual(['at', 'tab', 'seq', 'kind', 'method', 'url', 'why'])
  expect(keys('request-released')).toEqual(['at', 'tab', 'seq', 'kind', 'method', 'url', 'waitedMs'])
  expect(entries.find(e => e.kind === 'request-released')).toMatchObject({ method: 'GET', url: `${env.url}/api/parked` })
  expect(env.server.stats).toMatchObject({ refreshGranted: 1, api200: 1, api401: 0 })
})
