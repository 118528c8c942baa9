import { randomUUID } from 'node:crypto'
import { createAuthServer, cookieFetch, type AuthServer } from '../../src/testing/index.js'
import { createSession, type Session } from '../../src/index.js'
import type { SessionOptions } from '../../src/types.js'

export const TENANT_HEADERS = { 'X-Okapi-Tenant': 'diku', 'content-type': 'application/json' }
export const CREDENTIALS = JSON.stringify({ username: 'diku_admin', password: 'admin' })

/** A clock the test moves by hand, shared by the server and the sessions. */
export function manualClock(start = Date.parse('2026-11-22T12:00:00Z')) {
  let t = start
  return {
    now: () => t,
    advance(ms: number) {
      t += ms
    },
  }
}

export type Env = {
  server: AuthServer
  url: string
  sessions: Session[]
  /** A simulated browser (cookie jar) logged in and a session started with its answer. */
  browser(options?: Partial<SessionOptions>): Promise<{ session: Session; fetch: typeof fetch }>
  /** A bearer session started from /bearer/login. */
  bearer(options?: Partial<SessionOptions>): Promise<Session>
  close(): Promise<void>
}

/** The reference server on 127.0.0.1 and helpers to log a simulated browser into it. */
export async function startEnv(serverOptions: Parameters<typeof createAuthServer>[0] = {}): Promise<Env> {
  const server = createAuthServer(serverOptions)
  const { url, close } = await server.listen()
  const sessions: Session[] = []
  return {
    server,
    url,
    sessions,
    async browser(options = {}) {
      const jar = cookieFetch()
      const login = await jar(`${url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS })
      if (login.status !== 201) throw new Error(`login failed: ${login.status}`)
      const session = createSession({
        scope: url,
        fetch: jar,
        headers: { 'X-Okapi-Tenant': 'diku' },
        crossTab: false,
        ...options,
      })
      sessions.push(session)
      await session.start(login)
      return { session, fetch: jar }
    },
    async bearer(options = {}) {
      const login = await fetch(`${url}/bearer/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CREDENTIALS })
      if (login.status !== 201) throw new Error(`login failed: ${login.status}`)
      const session = createSession({
        scope: `${url}/api`,
        transport: 'bearer',
        refresh: { url: `${url}/bearer/refresh`, style: 'json' },
        logout: `${url}/bearer/logout`,
        crossTab: false,
        ...options,
      })
      sessions.push(session)
      await session.start(login)
      return session
    },
    async close() {
      for (const s of sessions) s.dispose()
      await close()
    },
  }
}

/** Records every event a session emits. */
export function record(session: Session) {
  const events: Array<{ type: string; payload: unknown }> = []
  for (const type of ['rotate', 'rotate-error', 'logout', 'idle-warning'] as const) {
    session.on(type, payload => events.push({ type, payload }))
  }
  return {
    events,
    of: (type: string) => events.filter(e => e.type === type).map(e => e.payload as Record<string, unknown>),
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

/** A Storage backed by a Map, so a test can look at what a session wrote. */
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
