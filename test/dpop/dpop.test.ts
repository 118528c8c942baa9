/**
 * DPoP's parts against a plain HTTP server on 127.0.0.1 that checks what it is sent: nonce
 * challenges retried once and never a rotation, the proof on logout, the grant check, the key
 * shared through IndexedDB (fake-indexeddb), and the options that cannot go with `dpop`.
 */
import 'fake-indexeddb/auto'
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, UnsecuredJWT, type JWTPayload } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { createSession, isRotorError, type Grant, type Session } from '../../src/index.js'
import { loadKeyPair } from '../../src/dpop/keys.js'
import { publicJwk, thumbprintOf } from '../../src/dpop/proof.js'

/** The runtime's WebCrypto and (fake) IndexedDB, for opening the session's key as the session does. */
const keyPlatform = { crypto, indexedDB }

type Seen = { method: string; path: string; authorization: string; proof: JWTPayload | undefined; body: string }

/** A resource server, token endpoint and logout endpoint in one, scripted per test. */
async function startServer(answer: (seen: Seen, all: Seen[]) => { status: number; headers?: Record<string, string>; body?: unknown }) {
  const all: Seen[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c as Buffer))
    req.on('end', async () => {
      const dpop = req.headers['dpop']
      let proof: JWTPayload | undefined
      if (typeof dpop === 'string') proof = (await jwtVerify(dpop, EmbeddedJWK, { typ: 'dpop+jwt' })).payload
      const seen = { method: req.method!, path: req.url!, authorization: req.headers.authorization ?? '', proof, body: Buffer.concat(chunks).toString() }
      all.push(seen)
      const { status, headers = {}, body = {} } = answer(seen, all)
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(body))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, all, close: () => new Promise<void>(resolve => (server.closeAllConnections(), server.close(() => resolve()))) }
}

const closers: Array<() => unknown> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

let n = 0
function session(url: string, extra: Record<string, unknown> = {}): Session {
  const s = createSession({
    scope: `${url}/api`,
    transport: 'bearer',
    rotation: 'request',
    // A name per session: each its own key.
    crossTab: { name: `dpop-test-${++n}` },
    refresh: { url: `${url}/token?tenant=a`, style: 'oauth2', clientId: 'app' },
    logout: `${url}/logout`,
    dpop: true,
    ...extra,
  })
  closers.push(() => s.dispose())
  return s
}

/** A login grant (what the app passes to start()) and the token endpoint's JSON answer. */
const grant = (at: string): Grant => ({ accessToken: at, refreshToken: `rt-${at}`, tokenType: 'DPoP', expiresIn: 60 })
const answer = (at: string) => ({ access_token: at, refresh_token: `rt-${at}`, token_type: 'DPoP', expires_in: 60 })
const ath = (at: string) => createHash('sha256').update(at).digest('base64url')
const challenge = { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' }, body: { error: 'use_dpop_nonce' } }

describe('nonces', () => {
  it("a resource server's use_dpop_nonce 401 is retried once with the nonce, body and all: no rotation", async () => {
    const server = await startServer(seen => (seen.path === '/token' ? { status: 500 } : seen.proof?.['nonce'] === 'n-1' ? { status: 200 } : challenge))
    closers.push(server.close)
    const s = session(server.url)
    await s.start(grant('at-1'))
    const res = await s.fetch(`${server.url}/api/items`, { method: 'POST', body: JSON.stringify({ item: 1 }) })
    expect(res.status).toBe(200)
    expect(server.all.map(r => [r.path, r.proof?.['nonce'] ?? null, r.body])).toEqual([
      ['/api/items', null, '{"item":1}'],
      ['/api/items', 'n-1', '{"item":1}'],
    ])
    // The AT goes as DPoP with its hash in the proof; the two proofs differ.
    expect(server.all.every(r => r.authorization === 'DPoP at-1' && r.proof?.['ath'] === ath('at-1'))).toBe(true)
    expect(server.all[0]!.proof!['jti']).not.toBe(server.all[1]!.proof!['jti'])
    // The nonce is remembered: the next request carries it at once.
    await s.fetch(`${server.url}/api/items`)
    expect(server.all.map(r => r.proof?.['nonce'] ?? null)).toEqual([null, 'n-1', 'n-1'])
  })

  it('the nonce retry is not the 401 replay: a nonce challenge, then an expired AT, still ends in one rotation and a 200', async () => {
    let refreshes = 0
    const server = await startServer(seen => {
      if (seen.path.startsWith('/token')) return { status: 200, body: answer(`at-${++refreshes + 1}`) }
      if (seen.proof?.['nonce'] !== 'n-1') return challenge
      return seen.authorization === 'DPoP at-1' ? { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } } : { status: 200 }
    })
    closers.push(server.close)
    const s = session(server.url)
    await s.start(grant('at-1'))
    const res = await s.fetch(`${server.url}/api/items`)
    expect(res.status).toBe(200)
    expect(refreshes).toBe(1)
    expect(server.all.map(r => `${r.path.split('?')[0]} ${r.authorization}`)).toEqual([
      '/api/items DPoP at-1', // no nonce: challenged
      '/api/items DPoP at-1', // the nonce retry: the AT is refused
      '/token ', // the rotation, with a proof and no AT
      '/api/items DPoP at-2', // the one replay
    ])
    const refresh = server.all[2]!.proof!
    expect(refresh).toMatchObject({ htm: 'POST', htu: `${server.url}/token`, nonce: 'n-1' })
    expect(refresh).not.toHaveProperty('ath')
  })

  it('a proof the resource server refuses (invalid_dpop_proof, e.g. a browser resent a copy) is signed again once: no rotation', async () => {
    let refreshes = 0
    const server = await startServer((seen, all) => {
      if (seen.path.startsWith('/token')) return { status: 200, body: answer(`at-${++refreshes + 1}`) }
      return all.length === 1 ? { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_dpop_proof"' } } : { status: 200 }
    })
    closers.push(server.close)
    const s = session(server.url)
    await s.start(grant('at-1'))
    expect((await s.fetch(`${server.url}/api/items`)).status).toBe(200)
    expect(refreshes).toBe(0)
    expect(server.all.map(r => r.authorization)).toEqual(['DPoP at-1', 'DPoP at-1'])
    expect(server.all[0]!.proof!['jti']).not.toBe(server.all[1]!.proof!['jti'])
  })

  it('a nonce challenge that repeats is answered once, never looped', async () => {
    let nonce = 0
    const server = await startServer(() => ({ ...challenge, headers: { ...challenge.headers, 'dpop-nonce': `n-${++nonce}` } }))
    closers.push(server.close)
    const s = session(server.url, { refresh: { url: `${server.url}/token`, style: 'oauth2' }, queueTimeout: 2000 })
    await s.start(grant('at-1'))
    // The server never accepts: one nonce retry, one rotation (refused), and the session ends.
    const outcome = await s.fetch(`${server.url}/api/items`).then(
      r => r.status,
      (e: { code?: string }) => e.code,
    )
    expect(server.all.map(r => `${r.path} ${r.proof?.['nonce'] ?? '-'}`)).toEqual(['/api/items -', '/api/items n-1', '/token n-2', '/token n-3'])
    expect(outcome).toBe('ERR_SESSION_EXPIRED')
    expect(s.state.status).toBe('signed-out')
  })
})

describe('the session key', () => {
  it('refresh and logout carry a proof from the same key; logout sends the AT as DPoP with its hash', async () => {
    const server = await startServer(seen => (seen.path.startsWith('/token') ? { status: 200, body: answer('at-2') } : { status: 204 }))
    closers.push(server.close)
    const s = session(server.url)
    await s.start(grant('at-1'))
    await s.rotate()
    await s.logout()
    const [refresh, logout] = server.all
    expect(refresh).toMatchObject({ path: '/token?tenant=a', authorization: '', proof: { htm: 'POST', htu: `${server.url}/token` } })
    expect(logout).toMatchObject({ path: '/logout', authorization: 'DPoP at-2', proof: { htm: 'POST', htu: `${server.url}/logout`, ath: ath('at-2') } })
  })

  it('start() refuses a JWT AT whose cnf.jkt names another key, and takes one bound to the session key', async () => {
    const server = await startServer(() => ({ status: 200 }))
    closers.push(server.close)
    const s = session(server.url)
    const jkt = await calculateJwkThumbprint(decodeProtectedHeader(await s.dpopProof('GET', `${server.url}/api`)).jwk!)
    const jwt = (bound: string) => new UnsecuredJWT({ cnf: { jkt: bound } }).setIssuedAt().setExpirationTime('1m').encode()
    const other = jwt('0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I')
    const error = await s.start(grant(other)).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isRotorError(error) && error.code).toBe('ERR_DPOP_BINDING')
    // Nothing of the token in the message.
    expect((error as Error).message).not.toContain(other.slice(0, 20))
    expect(s.state.status).toBe('signed-out')
    await s.start(grant(jwt(jkt)))
    expect(s.state.status).toBe('active')
  })

  it('tabs racing for a new key in IndexedDB agree on one; clearing the store makes a new one', async () => {
    const name = `race-${Date.now()}`
    const pairs = await Promise.all(Array.from({ length: 5 }, () => loadKeyPair(name, 'ES256', keyPlatform)))
    const prints = await Promise.all(pairs.map(async p => thumbprintOf(crypto, await publicJwk(crypto, p.publicKey))))
    expect(new Set(prints).size).toBe(1)
    expect(pairs.every(p => p.privateKey.extractable === false)).toBe(true)
    // Our thumbprint is RFC 7638's (jose computes it independently).
    expect(prints[0]).toBe(await calculateJwkThumbprint(await publicJwk(crypto, pairs[0]!.publicKey)))
    await new Promise((resolve, reject) => {
      const request = indexedDB.deleteDatabase('rotor-auth-dpop')
      request.onsuccess = resolve
      request.onerror = reject
    })
    const after = await loadKeyPair(name, 'ES256', keyPlatform)
    expect(await thumbprintOf(crypto, await publicJwk(crypto, after.publicKey))).not.toBe(prints[0])
  })

  it('EdDSA signs where the platform has Ed25519', async () => {
    const server = await startServer(() => ({ status: 200 }))
    closers.push(server.close)
    const s = session(server.url, { dpop: { alg: 'EdDSA' } })
    const proof = await s.dpopProof('get', `${server.url}/api/x?q=1`, { accessToken: 'at' })
    expect(decodeProtectedHeader(proof)).toMatchObject({ alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519' } })
    const { payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' })
    expect(payload).toMatchObject({ htm: 'GET', htu: `${server.url}/api/x`, ath: ath('at') })
  })
})

describe('options', () => {
  const base = { scope: 'http://127.0.0.1:1/api', transport: 'bearer' as const, refresh: { url: 'http://127.0.0.1:1/token', style: 'oauth2' as const } }

  it('dpop needs the bearer transport (with or without worker); a bad alg is named', () => {
    expect(() => createSession({ ...base, transport: 'cookie', dpop: true })).toThrow(/option `dpop` needs transport: 'bearer'/)
    expect(() => createSession({ ...base, transport: 'cookie', dpop: true, crossTab: { name: 'w' }, worker: 'http://127.0.0.1:1/rotor-worker.js' })).toThrow(
      /option `dpop` needs transport: 'bearer'/,
    )
    // The worker signs its refreshes with the tabs' key (test/dpop/worker.test.ts).
    const s = createSession({ ...base, dpop: true, crossTab: { name: 'w' }, worker: 'http://127.0.0.1:1/rotor-worker.js' })
    closers.push(() => s.dispose())
    expect(() => createSession({ ...base, dpop: { alg: 'RS256' as 'ES256' } })).toThrow(/option `dpop.alg` must be/)
    expect(() => createSession({ ...base, dpop: 'yes' as unknown as true })).toThrow(/option `dpop.alg`/)
  })

  it('without dpop, dpopProof and dpopFetch reject with a TypeError (ERR_USAGE)', async () => {
    const plain = createSession(base)
    closers.push(() => plain.dispose())
    const error = await plain.dpopProof('GET', 'http://127.0.0.1:1/api').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect(isRotorError(error) && error.code).toBe('ERR_USAGE')
    await expect(plain.dpopFetch('http://127.0.0.1:1/api')).rejects.toThrow(/`dpop` option/)
  })
})
