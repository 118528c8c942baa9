/**
 * The script of one tab of the DPoP browser test: a bearer session with `dpop: true` against
 * oidc-provider (`?issuer=`), its API on the page's own origin. Run after `/rotor.js` (global
 * `Rotor`); everything the test reads is plain data under `window.dpopTab`.
 */
import type * as RotorModule from '../../src/index.js'

declare const Rotor: typeof RotorModule

const query = new URLSearchParams(location.search)
const issuer = query.get('issuer')!
/** `?worker=<url>`: the session runs through the rotation worker (test/dpop/worker-tabs.test.ts). */
const worker = query.get('worker')

/**
 * Every proof this page handed to fetch (the session looks fetch up at call time), to tell
 * whether Rotor ever signed one twice from a copy the browser resent on its own.
 */
const proofs: string[] = []
/** Calls this page made to the token endpoint (the login's, and any refresh the tab made itself). */
let tokenCalls = 0
const platformFetch = window.fetch
window.fetch = (input, init) => {
  const proof = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).get('dpop')
  if (proof) proofs.push(proof)
  if (String(input instanceof Request ? input.url : input).startsWith(`${issuer}/token`)) tokenCalls++
  return platformFetch(input, init)
}
const session = Rotor.createSession({
  scope: `${location.origin}/api`,
  transport: 'bearer',
  rotation: 'request',
  refresh: { url: `${issuer}/token`, style: 'oauth2', clientId: 'rotor-app' },
  logout: false,
  crossTab: { name: worker ? 'dpop-worker-tabs' : 'dpop-tabs' },
  dpop: true,
  ...(worker ? { worker } : {}),
})

const stats = { sent: 0, ok: 0, failed: 0, errors: [] as string[], logouts: [] as string[], fallbacks: [] as string[], ownRotations: 0 }
session.on('logout', e => stats.logouts.push(e.reason))
session.on('worker-fallback', e => stats.fallbacks.push(e.reason))
// A rotation this tab made itself; with the worker, every rotation arrives from it (`remote`).
session.on('rotate', e => void (e.origin === 'local' && stats.ownRotations++))
let traffic: ReturnType<typeof setInterval> | undefined

const api = {
  stats,
  proofs: () => ({ count: proofs.length, distinct: new Set(proofs).size }),
  tokenCalls: () => tokenCalls,
  state: () => session.state,
  /** The app's login: the code exchanged with a proof from the session's key, then start(). */
  async login(code: string, verifier: string): Promise<number> {
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1/callback', client_id: 'rotor-app', code_verifier: verifier })
    const answer = await session.dpopFetch(`${issuer}/token`, { method: 'POST', body })
    const status = answer.status
    await session.start(answer)
    return status
  },
  startTraffic(intervalMs: number) {
    traffic = setInterval(() => {
      stats.sent++
      session.fetch('/api/items').then(
        async res => {
          if (res.status === 200) stats.ok++
          else {
            stats.failed++
            stats.errors.push(`HTTP ${res.status}`)
          }
          await res.body?.cancel()
        },
        (error: { code?: string; message?: string }) => {
          stats.failed++
          stats.errors.push(error.code ?? String(error.message))
        },
      )
    }, intervalMs)
  },
  stopTraffic: () => clearInterval(traffic),
}

declare global {
  interface Window {
    dpopTab: typeof api
  }
}
window.dpopTab = api
