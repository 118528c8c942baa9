/**
 * A real oidc-provider on 127.0.0.1 with DPoP and nonces required, a public client whose
 * refresh tokens rotate (and are bound to the key of the first proof), and beside it a resource
 * server (`/api/…`) that checks proofs the way RFC 9449 §7 says, with a nonce the test can
 * rotate. Everything either side saw is counted, for the tests to assert.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose'
import Provider from 'oidc-provider'
import { expect } from 'vitest'
import { recordIssuedToken } from '../setup/token-scan.js'

export const CLIENT_ID = 'rotor-app'
/** What the key store reads of the platform, for tests that open the session's key themselves (the runtime's own). */
export const keyPlatform = { crypto: globalThis.crypto, indexedDB: globalThis.indexedDB as IDBFactory | undefined }
export const REDIRECT_URI = 'http://127.0.0.1/callback'

export type Seen = {
  /** Successful refresh_token grants, and the RTs they spent. */
  refreshes: number
  spentRTs: string[]
  /** Token endpoint refusals by error, `use_dpop_nonce` included. */
  grantErrors: string[]
  /** Resource requests answered 200 / refused for a nonce / refused for anything else. */
  apiOk: number
  apiNonce: number
  apiRefused: string[]
  /** The nonces of the resource requests answered 200: one more each time the nonce changed and the client followed. */
  apiNoncesAccepted: Set<string>
  /** Every proof the token endpoint and the resource server received, and their keys' thumbprints. */
  jtis: string[]
  thumbprints: Set<string>
  proofs: string[]
}

/**
 * What both servers must have seen after a run of `sent` resource requests: every one answered,
 * no RT presented twice, nothing refused but missing nonces (which are retried), and refreshes
 * between `minimum` and 1.3× it.
 */
export function expectCleanRun(seen: Seen, sent: number, minimum: number): void {
  expect(seen.apiOk).toBe(sent)
  expect(seen.apiRefused).toEqual([])
  expect(new Set(seen.spentRTs).size).toBe(seen.spentRTs.length)
  expect(seen.grantErrors.filter(e => e !== 'use_dpop_nonce')).toEqual([])
  expect(seen.refreshes).toBeGreaterThanOrEqual(minimum)
  expect(seen.refreshes).toBeLessThanOrEqual(1.3 * minimum)
}

export type AuthServer = {
  issuer: string
  /** The resource server's origin: a server of its own, as in production (nonces are per server). */
  api: string
  provider: Provider
  seen: Seen
  /** The resource server's nonce changes: proofs with the old one are refused with use_dpop_nonce. */
  rotateApiNonce(): void
  close(): Promise<void>
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(body)
}

/**
 * `pages`: files the resource server's origin also serves (a browser test's page and bundles:
 * the API is then same-origin). `transitMs`: how late after its expiry (issuance + expires_in)
 * the resource server still takes an AT, for the time a request takes to get here.
 */
export async function startAuthServer({
  accessTokenTtl = 2,
  pages = {},
  transitMs = 500,
}: { accessTokenTtl?: number; pages?: Record<string, { type: string; body: string }>; transitMs?: number } = {}): Promise<AuthServer> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => text(res, 503, '{}')
  const server = createServer((req, res) => handler(req, res))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const apiServer = createServer((req, res) => {
    const path = req.url?.split('?')[0] ?? ''
    const page = pages[path]
    if (page || !path.startsWith('/api/')) {
      // The page, its scripts, and the browser's /favicon.ico (not an API call).
      res.writeHead(page ? 200 : 404, { 'content-type': page?.type ?? 'text/plain' })
      res.end(page?.body ?? '')
      return
    }
    const chunks: Buffer[] = []
    req.on('data', chunk => chunks.push(chunk as Buffer))
    req.on('end', () => void api(req, res, Buffer.concat(chunks).toString()).catch(error => text(res, 500, JSON.stringify({ error: String(error) }))))
  })
  await new Promise<void>(resolve => apiServer.listen(0, '127.0.0.1', resolve))
  const apiOrigin = `http://127.0.0.1:${(apiServer.address() as AddressInfo).port}`
  const seen: Seen = {
    refreshes: 0,
    spentRTs: [],
    grantErrors: [],
    apiOk: 0,
    apiNonce: 0,
    apiRefused: [],
    apiNoncesAccepted: new Set(),
    jtis: [],
    thumbprints: new Set(),
    proofs: [],
  }

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
      },
    ],
    features: {
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
      devInteractions: { enabled: true },
    },
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    ttl: { AccessToken: accessTokenTtl, RefreshToken: 3600, AuthorizationCode: 60, Grant: 3600, Interaction: 600, Session: 3600 },
    issueRefreshToken: () => true,
    // A browser test's tabs exchange the code and refresh from the page's origin.
    clientBasedCORS: () => true,
    rotateRefreshToken: () => true,
    cookies: { keys: [randomBytes(16).toString('hex')] },
  })
  // The run's verdicts come from the provider itself.
  provider.on('grant.success', ctx => {
    const params = ctx.oidc.params as { grant_type?: string; refresh_token?: string }
    if (params.grant_type === 'refresh_token') {
      seen.refreshes++
      seen.spentRTs.push(params.refresh_token ?? '')
    }
  })
  provider.on('grant.error', (_ctx, error) => seen.grantErrors.push((error as { error?: string }).error ?? String(error)))
  /**
   * Every AT the token endpoint issued: when, for how long, and the key it is bound to. The
   * resource server checks ATs against this rather than oidc-provider's store, which counts
   * lifetimes in whole seconds (an AT's exp is its floored iat + ttl, up to 1 s short of the
   * `expires_in` it announced): what is measured is Rotor's timing, not the rounding.
   */
  const issued = new Map<string, { at: number; ttl: number; jkt: string }>()
  // Every proof the token endpoint receives, for the thumbprint and jti counts.
  provider.use(async (ctx, next) => {
    const proof = ctx.get('dpop')
    const jkt = proof && ctx.path === '/token' ? await record(proof) : undefined
    await next()
    const body = ctx.body as { access_token?: string; expires_in?: number } | undefined
    if (jkt && ctx.status === 200 && body?.access_token) issued.set(body.access_token, { at: Date.now(), ttl: (body.expires_in ?? 0) * 1000, jkt })
    // Known to the suite's token scan (test/setup), which sees only the reference server's own.
    if (ctx.status === 200) recordIssuedToken(body?.access_token, (body as { refresh_token?: string } | undefined)?.refresh_token)
  })

  /** Counts a proof; returns its key's thumbprint. */
  async function record(proof: string): Promise<string | undefined> {
    seen.proofs.push(proof)
    try {
      const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' })
      seen.jtis.push(String(payload.jti))
      const thumbprint = await calculateJwkThumbprint(protectedHeader.jwk!)
      seen.thumbprints.add(thumbprint)
      return thumbprint
    } catch {
      seen.jtis.push('(unverifiable)')
      return undefined
    }
  }

  let apiNonce = randomBytes(12).toString('base64url')
  const apiJtis = new Set<string>()

  /** RFC 9449 §7: proof valid for this request, key = the AT's cnf.jkt, ath = hash(AT), nonce current, jti unseen. */
  async function api(req: IncomingMessage, res: ServerResponse, body: string) {
    const refuse = (why: string, error = 'invalid_token') => {
      seen.apiRefused.push(why)
      text(res, 401, JSON.stringify({ error }), { 'www-authenticate': `DPoP error="${error}", error_description="${why}"` })
    }
    const [scheme, at] = (req.headers.authorization ?? '').split(' ')
    const proof = req.headers['dpop']
    if (scheme !== 'DPoP' || !at || typeof proof !== 'string') return refuse('no DPoP authorization')
    await record(proof)
    let payload, protectedHeader
    try {
      ;({ payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'ES384', 'EdDSA', 'Ed25519'] }))
    } catch {
      return refuse('bad proof')
    }
    const url = new URL(req.url ?? '/', apiOrigin)
    if (payload['htm'] !== req.method || payload['htu'] !== `${apiOrigin}${url.pathname}`) return refuse('htm/htu')
    if (typeof payload.iat !== 'number' || Math.abs(payload.iat - Date.now() / 1000) > 60) return refuse('iat')
    if (payload['ath'] !== createHash('sha256').update(at).digest('base64url')) return refuse('ath')
    if (payload['nonce'] !== apiNonce) {
      seen.apiNonce++
      return text(res, 401, JSON.stringify({ error: 'use_dpop_nonce' }), { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': apiNonce })
    }
    // §11.1: a proof seen before is refused, as a proof (not the AT) problem.
    if (apiJtis.has(String(payload.jti))) return refuse('jti replayed', 'invalid_dpop_proof')
    apiJtis.add(String(payload.jti))
    const token = issued.get(at)
    if (!token) return refuse('unknown AT')
    // The client counts the lifetime from receipt; the request needs time to get here.
    if (Date.now() > token.at + token.ttl + transitMs) return refuse('expired AT')
    if (token.jkt !== (await calculateJwkThumbprint(protectedHeader.jwk!))) return refuse('AT bound to another key')
    // A POST resent after a nonce challenge or a 401 must carry its body again.
    if (req.method === 'POST' && body === '') return refuse('POST without its body')
    seen.apiOk++
    seen.apiNoncesAccepted.add(String(payload['nonce']))
    // Nonces may come with any answer; echo the current one, as servers do.
    text(res, 200, JSON.stringify({ ok: true }), { 'dpop-nonce': apiNonce })
  }

  handler = provider.callback()

  return {
    issuer,
    api: apiOrigin,
    provider,
    seen,
    rotateApiNonce: () => void (apiNonce = randomBytes(12).toString('base64url')),
    close: () =>
      Promise.all(
        [server, apiServer].map(
          s =>
            new Promise<void>(resolve => {
              s.closeAllConnections()
              s.close(() => resolve())
            }),
        ),
      ).then(() => undefined),
  }
}

/**
 * The authorization-code flow as a browser would run it, driven over plain HTTP through
 * oidc-provider's dev interactions (login as `user`, then consent), with PKCE. Returns the code;
 * exchanging it is the app's part and goes through the session's key (`session.dpopFetch`).
 */
export async function authorize(issuer: string, user = 'alice'): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const cookies = new Map<string, string>()
  const go = async (url: string, init: RequestInit = {}): Promise<string> => {
    const headers = new Headers(init.headers)
    headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    const res = await fetch(new URL(url, issuer), { ...init, headers, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const at = pair!.indexOf('=')
      cookies.set(pair!.slice(0, at), pair!.slice(at + 1))
    }
    await res.body?.cancel()
    const location = res.headers.get('location')
    if (!location) throw new Error(`authorize: ${url} answered ${res.status} without a redirect`)
    return location
  }
  const form = (body: Record<string, string>) => ({ method: 'POST', body: new URLSearchParams(body) })
  const query = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid offline_access',
    prompt: 'consent',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })
  let location = await go(`/auth?${query}`)
  for (let step = 0; step < 6; step++) {
    if (location.startsWith(REDIRECT_URI)) {
      const code = new URL(location).searchParams.get('code')
      if (!code) throw new Error(`authorize: no code in ${location}`)
      return { code, verifier }
    }
    if (location.includes('/interaction/')) {
      const uid = location.split('/interaction/')[1]!
      // The first interaction is the login, the next the consent.
      const prompt = step === 0 ? { prompt: 'login', login: user } : { prompt: 'consent' }
      location = await go(`/interaction/${uid}`, form(prompt))
    } else {
      location = await go(location)
    }
  }
  throw new Error('authorize: no code after the login and consent steps')
}

/** The code exchange's form (RFC 6749 §4.1.3, PKCE). */
export function codeExchange(code: string, verifier: string): URLSearchParams {
  return new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: CLIENT_ID, code_verifier: verifier })
}
