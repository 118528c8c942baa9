import { randomUUID } from 'node:crypto'
import { createAuthServer, cookieFetch, type AuthServer } from '../../src/testing/index.js'
import { createSession, type Session } from '../../src/index.js'
import type { SessionOptions } from '../../src/types.js'

export const TENANT_HEADERS = { 'X-Okapi-Tenant': 'diku', 'content-type': 'application/json' }
export const CREDENTIALS = JSON.stringify({ username: 'diku_admin', password: 'admin' })

/** Logs in on the server's bearer route; the answer carries the token pair. */
export const bearerLogin = (url: string) => fetch(`${url}/bearer/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CREDENTIALS })

/** A bearer session's options on the reference server at `url` (its /bearer routes, scope /api). */
export const bearerOptions = (url: string) => ({
  scope: `${url}/api`,
  transport: 'bearer' as const,
  refresh: { url: `${url}/bearer/refresh`, style: 'json' as const },
  logout: `${url}/bearer/logout`,
})

export type Env = {
  server: AuthServer
  url: string
  sessions: Session[]
  /**
   * A simulated browser (cookie jar) logged in and a session started with its answer.
   * `wrap` puts something between the session and the jar (a spy, answeredFetch).
   */
  browser(options?: Partial<SessionOptions>, wrap?: (jar: typeof fetch) => typeof fetch): Promise<{ session: Session; fetch: typeof fetch }>
  /** A bearer session started from /bearer/login. */
  bearer(options?: Partial<SessionOptions>): Promise<Session>
  /** Either, by transport: a test run for each transport a user can choose. */
  session(transport: 'cookie' | 'bearer', options?: Partial<SessionOptions>): Promise<Session>
  close(): Promise<void>
}

/** The reference server on 127.0.0.1 and helpers to log a simulated browser into it. */
export async function startEnv(serverOptions: Parameters<typeof createAuthServer>[0] = {}): Promise<Env> {
  const server = createAuthServer(serverOptions)
  const { url, close } = await server.listen()
  const sessions: Session[] = []
  const env: Env = {
    server,
    url,
    sessions,
    async browser(options = {}, wrap) {
      const jar = cookieFetch()
      const login = await jar(`${url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS })
      if (login.status !== 201) throw new Error(`login failed: ${login.status}`)
      const session = createSession({
        scope: url,
        fetch: wrap ? wrap(jar) : jar,
        headers: { 'X-Okapi-Tenant': 'diku' },
        crossTab: false,
        ...options,
      })
      sessions.push(session)
      await session.start(login)
      return { session, fetch: jar }
    },
    async bearer(options = {}) {
      const login = await bearerLogin(url)
      if (login.status !== 201) throw new Error(`login failed: ${login.status}`)
      const session = createSession({ ...bearerOptions(url), crossTab: false, ...options })
      sessions.push(session)
      await session.start(login)
      return session
    },
    async session(transport, options) {
      return transport === 'bearer' ? env.bearer(options) : (await env.browser(options)).session
    },
    async close() {
      for (const s of sessions) s.dispose()
      await close()
    },
  }
  return env
}

/** Records every event a session emits. */
export function record(session: Session) {
  const events: Array<{ type: string; payload: unknown }> = []
  for (const type of ['rotate', 'rotate-error', 'logout', 'idle-warning', 'storage-error'] as const) {
    session.on(type, payload => events.push({ type, payload }))
  }
  return {
    events,
    of: (type: string) => events.filter(e => e.type === type).map(e => e.payload as Record<string, unknown>),
  }
}

/**
 * One simulated browser and its tabs: every tab a session on one channel name. Cookie
 * transport (the default): the tabs share one cookie jar, like a browser's tabs. With
 * `transport: 'bearer'` in `defaults`: bearer tabs on `${url}/api`, refreshing and logging out
 * on the server's /bearer routes. `defaults` and each `open(options)` override the rest.
 */
export function browserTabs(env: Env, defaults: Partial<SessionOptions> = {}) {
  const jar = cookieFetch()
  const name = randomUUID()
  const tabs: Session[] = []
  const bearer = defaults.transport === 'bearer'
  const base: SessionOptions = bearer
    ? {
        scope: `${env.url}/api`,
        refresh: { url: `${env.url}/bearer/refresh`, style: 'json' },
        logout: `${env.url}/bearer/logout`,
      }
    : { scope: env.url, fetch: jar, headers: { 'X-Okapi-Tenant': 'diku' } }
  const login = (): Promise<Response> =>
    bearer ? bearerLogin(env.url) : jar(`${env.url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS })
  return {
    jar,
    name,
    /** The BroadcastChannel name the tabs talk on. */
    channelName: `rotor-auth:${name}`,
    tabs,
    open(options: Partial<SessionOptions> = {}) {
      const tab = createSession({ ...base, crossTab: { name }, ...defaults, ...options })
      tabs.push(tab)
      env.sessions.push(tab)
      return tab
    },
    /** Logs this browser in (cookies land in the jar); the answer is for `tab.start()`. */
    login,
    /** Logs in and starts `tab` with the answer. */
    async start(tab: Session): Promise<void> {
      await tab.start(await login())
    },
  }
}
