import { randomUUID } from 'node:crypto'
import { createSession, type Session } from '../../src/index.js'
import type { SessionOptions } from '../../src/types.js'
import { cookieFetch, type AuthServer } from '../../src/testing/index.js'
import { CREDENTIALS, TENANT_HEADERS, type Env } from '../helpers/session-env.js'

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

/** One simulated browser: a cookie jar shared by every tab, each tab a session on one channel. */
export function browserTabs(env: Env, defaults: Partial<SessionOptions>) {
  const jar = cookieFetch()
  const name = randomUUID()
  const tabs: Session[] = []
  return {
    jar,
    name,
    tabs,
    open(options: Partial<SessionOptions> = {}) {
      const tab = createSession({
        scope: env.url,
        fetch: jar,
        headers: { 'X-Okapi-Tenant': 'diku' },
        crossTab: { name },
        ...defaults,
        ...options,
      })
      tabs.push(tab)
      env.sessions.push(tab)
      return tab
    },
    login() {
      return jar(`${env.url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS })
    },
  }
}

/** What the server answered on its refresh routes, in order. */
export function refreshes(server: AuthServer) {
  return server.log
    .filter(e => e.route === 'refresh')
    .map(e => ({ status: e.status, ...(e.fault ? { fault: e.fault } : {}), ...(e.reused ? { reused: true } : {}) }))
}

export function memoryStorage() {
  const map = new Map<string, string>()
  return {
    map,
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, v),
    removeItem: (k: string) => void map.delete(k),
    dump: () => [...map.entries()].map(([k, v]) => `${k}=${v}`).join('\n'),
  }
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
