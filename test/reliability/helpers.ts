import type { AuthServer } from '../../src/testing/index.js'

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
