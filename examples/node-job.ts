/**
 * A backend job that holds its own token pair and outlives its access token: the fix the
 * FOLIO spike names first ("refreshing the client token by the backend modules making the
 * request"). The job gets a fresh pair of its own at start (so a user logging out, or
 * rotating in a browser, cannot invalidate it), then runs for as long as it takes; Rotor
 * rotates the pair on a timer (or on request) and no call ever sees an expired AT.
 *
 *   npx tsx examples/node-job.ts
 */
import { createSession, type Session } from '../src/index.js'
import { createAuthServer } from '../src/testing/index.js'

export type JobOptions = {
  apiUrl: string
  refreshUrl: string
  /** The job's own pair, e.g. from a login with a service account right before the job. */
  grant: { accessToken: string; refreshToken: string }
  rotation?: 'timer' | 'request'
}

export async function startJobSession({ apiUrl, refreshUrl, grant, rotation = 'timer' }: JobOptions): Promise<Session> {
  const session = createSession({
    scope: apiUrl,
    transport: 'bearer',
    rotation,
    refresh: { url: refreshUrl, style: 'json' },
    logout: false,
    // A job is one process with one session: nothing to share.
    crossTab: false,
  })
  await session.start(grant)
  return session
}

/** Runs `steps` calls, `pauseMs` apart, through the session; returns the statuses seen. */
export async function runJob(session: Session, apiUrl: string, steps: number, pauseMs: number): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < steps; i++) {
    const response = await session.fetch(`${apiUrl}/records/${i}`, { method: 'PUT', body: JSON.stringify({ i }) })
    statuses.push(response.status)
    await response.body?.cancel()
    await new Promise(resolve => setTimeout(resolve, pauseMs))
  }
  return statuses
}

async function main(): Promise<void> {
  const server = createAuthServer({ accessTokenTtl: 1_000, refreshTokenTtl: 30_000 })
  const { url, close } = await server.listen()
  const grant = await server.issue('data-import')
  const session = await startJobSession({ apiUrl: `${url}/api`, refreshUrl: `${url}/bearer/refresh`, grant })
  const statuses = await runJob(session, `${url}/api`, 40, 100)
  session.dispose()
  await close()
  const ok = statuses.filter(s => s === 200).length
  console.log(
    `job: ${ok}/${statuses.length} calls answered 200 over ${(statuses.length * 0.1).toFixed(1)} s with a 1 s access token; refreshes: ${server.stats.refreshGranted}, 401s served: ${server.stats.api401}, reused RTs: ${server.stats.reusedRefused}`,
  )
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
