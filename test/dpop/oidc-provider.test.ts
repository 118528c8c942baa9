/**
 * DPoP against a real oidc-provider (DPoP and nonces required): the login is bound to the
 * session's key through `session.dpopFetch`, then a Node session keeps traffic flowing with a
 * 2 s AT. What the provider and the resource server saw decides.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createSession, isRotorError, type Session } from '../../src/index.js'
import { loadKeyPair } from '../../src/dpop/keys.js'
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK } from 'jose'
import { sleep, waitFor } from '../helpers/index.js'
import { authorize, CLIENT_ID, codeExchange, expectCleanRun, keyPlatform, startAuthServer, type AuthServer } from './provider.js'

const AT_S = 2

let server: AuthServer | undefined
const sessions: Session[] = []
afterEach(async () => {
  for (const s of sessions.splice(0)) s.dispose()
  await server?.close()
  server = undefined
})

function dpopSession(srv: AuthServer, extra: Partial<Parameters<typeof createSession>[0]> = {}): Session {
  const session = createSession({
    scope: `${srv.api}/api`,
    transport: 'bearer',
    rotation: 'request',
    refresh: { url: `${srv.issuer}/token`, style: 'oauth2', clientId: CLIENT_ID },
    logout: false,
    dpop: true,
    ...extra,
  })
  sessions.push(session)
  return session
}

/** The app's login: the authorization-code flow, its code exchanged with a proof from the session's key. */
async function login(srv: AuthServer, session: Session): Promise<void> {
  const { code, verifier } = await authorize(srv.issuer)
  await session.start(await session.dpopFetch(`${srv.issuer}/token`, { method: 'POST', body: codeExchange(code, verifier) }))
}

/** The key name a Node session without crossTab uses: its storage key (see options.ts). */
const keyName = (srv: AuthServer) => `rotor-auth:${srv.api}/api|${srv.issuer}/token`

describe('DPoP against oidc-provider (nonces required)', () => {
  it('15 s of traffic at AT 2 s: 0 failed calls, 0 reused RTs, refreshes within 1.3× the minimum, one key thumbprint, a nonce rotation costs nothing, no jti twice', async () => {
    const srv = (server = await startAuthServer({ accessTokenTtl: AT_S }))
    const session = dpopSession(srv)
    const logouts: string[] = []
    session.on('logout', e => logouts.push(e.reason))
    await login(srv, session)
    expect(session.state.status).toBe('active')

    // 15 s: long enough for seven rotations and a nonce change in the middle of it.
    const duration = 15_000
    const started = Date.now()
    let sent = 0
    let failed = 0
    const loop = async () => {
      while (Date.now() - started < duration) {
        sent++
        try {
          // GETs and POSTs with a body: a nonce retry resends the body.
          const init: RequestInit = sent % 2 ? {} : { method: 'POST', body: JSON.stringify({ n: sent }) }
          const res = await session.fetch(`${srv.api}/api/items?page=${sent}`, init)
          if (res.status !== 200) failed++
          await res.body?.cancel()
        } catch {
          failed++
        }
        await sleep(60)
      }
    }
    const rotation = (async () => {
      await sleep(duration / 2)
      srv.rotateApiNonce()
    })()
    await Promise.all([loop(), loop(), loop()])
    await rotation
    const elapsed = Date.now() - started

    const { seen } = srv
    // The login's AT serves the first AT_S; every later one came from a refresh.
    const minimum = Math.ceil(elapsed / (AT_S * 1000)) - 1
    console.log(
      `DPoP ${elapsed} ms: ${sent} requests (${failed} failed), refreshes ${seen.refreshes} (minimum ${minimum}, ${(seen.refreshes / minimum).toFixed(2)}×), ` +
        `API nonce challenges ${seen.apiNonce}, refused ${seen.apiRefused.length}, token endpoint errors ${JSON.stringify(seen.grantErrors)}, thumbprints ${seen.thumbprints.size}, proofs ${seen.jtis.length}`,
    )
    expect(failed).toBe(0)
    expect(logouts).toEqual([])
    // No RT presented twice, and the provider refused nothing but missing nonces (which are retried).
    expectCleanRun(seen, sent, minimum)
    // The nonce changed mid-run and every request still succeeded, the later ones with the new nonce.
    // The client learnt it from a challenge, or from a 200 that carried it: a request checked just
    // before the change is answered after it, with the new nonce (CI on ed78f6a: no challenge).
    expect(seen.apiNoncesAccepted.size).toBe(2)
    // One key for the login, every refresh and every request: the session's.
    expect(seen.thumbprints.size).toBe(1)
    const pair = await loadKeyPair(keyName(srv), 'ES256', keyPlatform)
    expect([...seen.thumbprints]).toEqual([await calculateJwkThumbprint(await exportJWK(pair.publicKey))])
    // Never the same proof twice, nonce retries included.
    expect(new Set(seen.jtis).size).toBe(seen.jtis.length)
  }, 60_000)

  it('a proof replayed verbatim is refused by oidc-provider; the AT goes as `DPoP`, never `Bearer`', async () => {
    const srv = (server = await startAuthServer({ accessTokenTtl: 30 }))
    const session = dpopSession(srv)
    await login(srv, session)
    const at = await session.accessToken()
    const me = `${srv.issuer}/me`
    const headers = { authorization: `DPoP ${at}`, dpop: await session.dpopProof('GET', me, { accessToken: at }) }
    const first = await fetch(me, { headers })
    expect(first.status).toBe(200)
    expect(((await first.json()) as { sub: string }).sub).toBe('alice')
    const again = await fetch(me, { headers })
    // oidc-provider keeps every jti it accepted: the copy is refused (it names no reason).
    expect(again.status).toBe(401)
    expect(again.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_token"/)
    // The same AT without a proof is refused: a copied token is no use on its own.
    const bare = await fetch(me, { headers: { authorization: `Bearer ${at}` } })
    expect(bare.status).toBe(401)
    // Two proofs for one request still differ (fresh jti each time).
    const a = decodeJwt(await session.dpopProof('GET', me))
    const b = decodeJwt(await session.dpopProof('GET', me))
    expect(a['jti']).not.toBe(b['jti'])
  }, 30_000)

  it('the private key cannot be exported, and the proof header carries only the public key', async () => {
    const srv = (server = await startAuthServer())
    const session = dpopSession(srv)
    const proof = await session.dpopProof('POST', `${srv.issuer}/token?x=1#y`)
    const header = decodeProtectedHeader(proof)
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' })
    expect(header.jwk).not.toHaveProperty('d')
    expect(decodeJwt(proof)).toMatchObject({ htm: 'POST', htu: `${srv.issuer}/token` })
    const pair = await loadKeyPair(keyName(srv), 'ES256', keyPlatform)
    expect(pair.privateKey.extractable).toBe(false)
    await expect(crypto.subtle.exportKey('pkcs8', pair.privateKey)).rejects.toThrow()
    await expect(crypto.subtle.exportKey('jwk', pair.privateKey)).rejects.toThrow()
  })

  it('a grant that is not DPoP-bound (token_type Bearer) is refused by start() with ERR_DPOP_BINDING', async () => {
    const srv = (server = await startAuthServer())
    const session = dpopSession(srv)
    const { code, verifier } = await authorize(srv.issuer)
    // The app forgot the proof: oidc-provider issues a plain Bearer grant.
    const answer = await fetch(`${srv.issuer}/token`, { method: 'POST', body: codeExchange(code, verifier) })
    expect(answer.status).toBe(200)
    const error = await session.start(answer).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isRotorError(error) && error.code).toBe('ERR_DPOP_BINDING')
    expect(String(error)).not.toMatch(/eyJ|[A-Za-z0-9_-]{40}/)
    expect(session.state.status).toBe('signed-out')
  }, 30_000)

  it('a grant bound to a key the session no longer has (storage cleared) ends cleanly: the refresh is refused, reauthenticate runs', async () => {
    const srv = (server = await startAuthServer())
    // Another session name: another key, as after the key store was cleared.
    const before = dpopSession(srv, { crossTab: false, refresh: { url: `${srv.issuer}/token?old`, style: 'oauth2', clientId: CLIENT_ID } })
    const { code, verifier } = await authorize(srv.issuer)
    const grant = await before.dpopFetch(`${srv.issuer}/token`, { method: 'POST', body: codeExchange(code, verifier) })
    let reauthenticated = 0
    // The app's login form, run again: a new login, bound to the key the session holds now.
    const session: Session = dpopSession(srv, {
      reauthenticate: async () => {
        reauthenticated++
        const again = await authorize(srv.issuer)
        return session.dpopFetch(`${srv.issuer}/token`, { method: 'POST', body: codeExchange(again.code, again.verifier) })
      },
    })
    const logouts: string[] = []
    session.on('logout', e => logouts.push(e.reason))
    // The AT is opaque: start() cannot tell the key apart, so it accepts; the server can.
    await session.start(grant)
    const generation = session.state.generation
    await session.rotate()
    expect(srv.seen.grantErrors).toContain('invalid_grant')
    expect(srv.seen.refreshes).toBe(0)
    expect(reauthenticated).toBe(1)
    expect(session.state).toMatchObject({ status: 'active' })
    expect(session.state.generation).toBeGreaterThan(generation)
    // The new pair is bound to this session's key: it rotates.
    await session.rotate()
    expect(srv.seen.refreshes).toBe(1)
    expect(logouts).toEqual([])
    // Without reauthenticate, the same refusal ends the session: nothing loops.
    const plain = dpopSession(srv, { refresh: { url: `${srv.issuer}/token?plain`, style: 'oauth2', clientId: CLIENT_ID } })
    const ended: string[] = []
    plain.on('logout', e => ended.push(e.reason))
    const other = await authorize(srv.issuer)
    await plain.start(await before.dpopFetch(`${srv.issuer}/token`, { method: 'POST', body: codeExchange(other.code, other.verifier) }))
    await expect(plain.rotate()).rejects.toMatchObject({ code: 'ERR_SESSION_EXPIRED' })
    await waitFor(() => ended.length === 1)
    expect(ended).toEqual(['rejected'])
  }, 30_000)
})
