/**
 * A FOLIO / Stripes preset: Okapi URL, tenant header, cookie transport (FOLIO keeps both
 * tokens in HttpOnly cookies: folioAccessToken, folioRefreshToken), timer mode (the R
 * environment of the seed spike: an idle session stays alive). Drop it into a Stripes-style
 * app in place of stripes-core's RTR:
 *
 *   const session = createFolioSession({ okapiUrl: 'https://folio.example.org/okapi', tenant: 'diku' })
 *   await loginToFolio(session, { username, password })
 *   session.install()          // every fetch to Okapi now waits for, and survives, rotations
 */
import { createSession, type Session, type SessionOptions } from '../src/index.js'

export type FolioOptions = {
  /** The Okapi (or Kong/Eureka gateway) base URL; every request below it is managed. */
  okapiUrl: string
  tenant: string
  /** Anything else createSession takes (idle timeout, reauthenticate, fetch for Node…). */
  overrides?: Partial<SessionOptions>
}

export function createFolioSession({ okapiUrl, tenant, overrides = {} }: FolioOptions): Session {
  const base = okapiUrl.replace(/\/+$/, '')
  return createSession({
    scope: base,
    transport: 'cookie',
    rotation: 'timer',
    refresh: { url: `${base}/authn/refresh`, style: 'folio' },
    logout: `${base}/authn/logout`,
    headers: { 'X-Okapi-Tenant': tenant },
    ...overrides,
  })
}

/** Stripes' login call (`/bl-users/login-with-expiry`), then `session.start()` with its answer. */
export async function loginToFolio(
  session: Session,
  { okapiUrl, tenant, username, password, fetch: send = globalThis.fetch }: { okapiUrl: string; tenant: string; username: string; password: string; fetch?: typeof fetch },
): Promise<void> {
  const response = await send(`${okapiUrl.replace(/\/+$/, '')}/bl-users/login-with-expiry`, {
    method: 'POST',
    credentials: 'include',
    headers: { 'content-type': 'application/json', 'X-Okapi-Tenant': tenant },
    body: JSON.stringify({ username, password }),
  })
  if (!response.ok) throw new Error(`FOLIO login failed: HTTP ${response.status}`)
  await session.start(response)
}
