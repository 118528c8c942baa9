/**
 * Scenario — cluster: one user's job split across 1, 4 and 8 worker processes that share one
 * token pair through Redis (rotor-auth/redis), against the reference server over HTTP with a
 * 1 s access token. Each worker sends requests (2 at a time, 20 ms apart) for a few seconds;
 * the table gives what the server counted and each request's latency as the caller saw it.
 * Needs redis-server (REDIS_SERVER_PATH or /usr/bin/redis-server); it is started on a free
 * port and stopped by its pid.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { createClient } from 'redis'
import { createSession } from '../src/index.js'
import { createRedisCoordinator } from '../src/redis/index.js'
import { createAuthServer } from '../src/testing/index.js'
import { percentile, runCluster } from '../test/redis/cluster.js'
import { HAVE_REDIS, REDIS_SERVER, startRedis } from '../test/redis/server.js'
import type { Section } from './table.js'

const SIZES = [1, 4, 8]
const DURATION_MS = 6_000
const AT_MS = 1_000

export async function runClusterBench(): Promise<Section> {
  const method = `Worker processes × ${DURATION_MS / 1000} s of requests (2 in flight per worker, 20 ms apart), AT ${AT_MS} ms, one pair shared through a local redis-server; latency is from session.fetch() to the body read, per request, over all workers.`
  if (!HAVE_REDIS) {
    return { title: 'Cluster (Redis)', method, table: { columns: ['skipped'], rows: [[`no ${REDIS_SERVER}`]] }, verdicts: ['Skipped: redis-server is not installed.'] }
  }
  const redis = await startRedis()
  const rows: Array<Array<string | number>> = []
  const verdicts: string[] = []
  try {
    for (const workers of SIZES) {
      const server = createAuthServer({ accessTokenTtl: AT_MS, refreshTokenTtl: 3_600_000 })
      const { url, close } = await server.listen()
      const name = randomUUID()
      const key = randomBytes(32).toString('base64')
      const client = createClient({ url: redis.url })
      client.on('error', () => undefined)
      await client.connect()
      const login = createSession({ scope: `${url}/api`, transport: 'bearer', coordinator: createRedisCoordinator({ client, name, key }) })
      await login.start(
        await fetch(`${url}/bearer/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
        }),
      )
      login.dispose()
      client.destroy()
      server.resetStats()
      try {
        const { reports, trafficMs } = await runCluster({ workers, auth: url, redis: redis.url, name, key, duration: DURATION_MS })
        const latencies = reports.flatMap(r => r.latencies).sort((a, b) => a - b)
        const sent = reports.reduce((n, r) => n + r.sent, 0)
        const failed = reports.reduce((n, r) => n + r.failed, 0)
        // One refresh per usable AT lifetime over the traffic's whole span (the last requests end after DURATION_MS):
        // a session refreshes `leeway` before expiry, by default 10% of the lifetime, at most 5 s (src/core/state.ts leeway()).
        const usable = AT_MS - Math.min(5_000, AT_MS * 0.1)
        const minimum = Math.ceil(trafficMs / usable)
        const { refreshCalls, reusedRefused, api401 } = server.stats
        rows.push([workers, Math.round(trafficMs), sent, failed, refreshCalls, minimum, reusedRefused, api401, percentile(latencies, 50), percentile(latencies, 99)])
        if (reusedRefused > 0 || failed > 0) verdicts.push(`${workers} workers: ${reusedRefused} reused RT(s), ${failed} failed request(s) — target is 0.`)
        if (refreshCalls > 1.3 * minimum + 1) verdicts.push(`${workers} workers: ${refreshCalls} refreshes, over 1.3× the minimum of ${minimum} (+1 for the warm-up).`)
      } finally {
        await close()
      }
    }
  } finally {
    await redis.stop()
  }
  if (verdicts.length === 0)
    verdicts.push(
      'Target met: 0 reused RTs and 0 failed requests at every size; refreshes within 1.3× the minimum (one per usable AT lifetime over the traffic span, +1 warm-up).',
    )
  return {
    title: 'Cluster (Redis)',
    method,
    table: { columns: ['workers', 'traffic ms', 'requests', 'failed', 'refreshes', 'minimum', 'reused RTs', 'API 401s', 'p50 ms', 'p99 ms'], rows },
    verdicts,
    notes: [
      'Refreshes include one at start-up (each worker waits until its session is ready, with an AT that expired while the workers started). p99 includes the requests that waited for a refresh: with N workers each refresh is one lock hold; the others adopt the new pair by pub/sub.',
    ],
  }
}
