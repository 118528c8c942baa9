import type { AuthServer } from '../../src/testing/index.js'
import { CREDENTIALS } from '../helpers/session-env.js'

export { browserTabs, memoryStorage } from '../helpers/session-env.js'

export const tick = (ms = 5) => new Promise<void>(resolve => setTimeout(resolve, ms))

/**
 * A clock that flows with real time and can also jump: for rows where a timeout (real ms)
 * and a deadline on the session's clock must agree.
 */
export function flowingClock(start = Date.parse('2026-11-22T12:00:00Z')) {
  const t0 = performance.now()
  let jumped = 0
  return {
    now: () => Math.floor(start + (performance.now() - t0) + jumped),
    advance(ms: number) {
      jumped += ms
    },
  }
}

/** What the server answered on its refresh routes, in order. */
export function refreshes(server: AuthServer) {
  return server.log
    .filter(e => e.route === 'refresh')
    .map(e => ({ status: e.status, ...(e.fault ? { fault: e.fault } : {}), ...(e.reused ? { reused: true } : {}) }))
}

/** Settles a promise into { ok, value | error } without throwing. */
export async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p }
  } catch (error) {
    return { ok: false, error }
  }
}

export const bearerLogin = (url: string) =>
  fetch(`${url}/bearer/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CREDENTIALS })
