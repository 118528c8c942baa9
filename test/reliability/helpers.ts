/** What the chaos tests share: the refresh log, settling a promise, and replaying a schedule. */
import type { AuthServer } from '../../src/testing/index.js'
import { runSchedule, type Schedule } from './chaos-harness.js'

/** What the server answered on its refresh routes, in order. */
export function refreshes(server: AuthServer) {
  return server.log.filter(e => e.route === 'refresh').map(e => ({ status: e.status, ...(e.fault ? { fault: e.fault } : {}), ...(e.reused ? { reused: true } : {}) }))
}

/** Settles a promise into { ok, value | error } without throwing. */
export async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p }
  } catch (error) {
    return { ok: false, error }
  }
}

/**
 * Runs a shrunk chaos schedule (strict mode) until it shows a violation, at most `tries` times:
 * the schedules depend on timing (a bug reproduced in 5–100 % of runs).
 */
export async function firstViolations(schedule: Schedule, tries: number, refreshTimeout?: number): Promise<string[]> {
  for (let i = 0; i < tries; i++) {
    const { violations } = await runSchedule(schedule, refreshTimeout === undefined ? { strict: true } : { strict: true, refreshTimeout })
    if (violations.length > 0) return violations
  }
  return []
}
