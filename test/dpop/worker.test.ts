/**
 * DPoP with the rotation worker, in one Node process: tab sessions (`worker` + `dpop`) reach
 * the real hub of src/worker/hub.ts through MessageChannel ports (a SharedWorker stand-in, as
 * test/session/worker.test.ts does), and the worker's own session refreshes and logs out with
 * the key the tabs stored in (fake) IndexedDB. Against oidc-provider with DPoP and nonces
 * required, and a scripted server that shows the logout's proof and the token endpoint's nonce.
 * Five real Chromium tabs with the worker script: test/dpop/tabs.test.ts.
 */
import 'fake-indexeddb/auto'
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, EmbeddedJWK, exportJWK, jwtVerify, UnsecuredJWT, type JWK, type JWTPayload } from 'jose'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createSession, type Session, type SessionOptions } from '../../src/index.js'
import { loadKeyPair } from '../../src/dpop/keys.js'
import { createHub, type Hub } from '../../src/worker/hub.js'
import { PROTOCOL_VERSION } from '../../src/worker/protocol.js'
import { sleep, waitFor } from '../helpers/index.js'
import { authorize, CLIENT_ID, codeExchange, expectCleanRun, keyPlatform, startAuthServer, type AuthServer } from './provider.js'

const AT_S = 2

/** `new SharedWorker(url, { name })` for Node: one hub per name, one MessageChannel per tab. */
function installSharedWorker() {
  const hubs = new Map<string, Hub>()
  const ports: MessagePort[] = []
  class SharedWorkerStandIn extends EventTarget {
    readonly port: MessagePort
    constructor(_url: string | URL, { name }: { name: string }) {
      super()
      const { port1, port2 } = new MessageChannel()
      ports.push(port1, port2)
      let hub = hubs.get(name)
      if (!hub) hubs.set(name, (hub = createHub(name)))
      hub.connect(port2 as never)
      this.port = port1
    }
  }
  vi.stubGlobal('SharedWorker', SharedWorkerStandIn)
  return {
    hubs,
    close() {
      for (const port of ports) port.close()
      for (const hub of hubs.values()) hub.session?.dispose()
    },
  }
}

const thumbprintOfProof = (proof: string) => calculateJwkThumbprint(decodeProtectedHeader(proof).jwk as JWK)
const ath = (at: string) => createHash('sha256').update(at).digest('base64url')

let n = 0
let worker: ReturnType<typeof installSharedWorker>
const sessions: Session[] = []
const closers: Array<() => unknown> = []
beforeEach(() => {
  worker = installSharedWorker()
})
afterEach(async () => {
  for (const s of sessions.splice(0)) s.dispose()
  worker.close()
  vi.unstubAllGlobals()
  for (const close of closers.splice(0).reverse()) await close()
})

/** A tab: bearer, `dpop`, `worker`, named `name` (a name per test: each its own worker and key). */
function tab(name: string, options: Partial<SessionOptions>): Session {
  const session = createSession({
    transport: 'bearer',
    rotation: 'request',
    crossTab: { name },
    worker: 'http://127.0.0.1:1/rotor-worker.js',
    dpop: true,
    ...options,
  } as SessionOptions)
  sessions.push(session)
  return session
}

/** Rotations each session made itself (`local`): the worker's session's, and every tab's (which must be none). */
function rotationsBy(session: Session) {
  let count = 0
  session.on('rotate', e => void (e.origin === 'local' && count++))
  return () => count
}

describe('DPoP with the rotation worker (Node, MessageChannel ports)', () => {
  it('oidc-provider: the worker refreshes with the tabs’ key — one thumbprint for the login, every refresh and every request; 0 failed calls, 0 reused RTs, no tab refreshes', async () => {
    const srv: AuthServer = await startAuthServer({ accessTokenTtl: AT_S })
    closers.push(() => srv.close())
    const name = `dpop-worker-${++n}`
    const options = { scope: `${srv.api}/api`, refresh: { url: `${srv.issuer}/token`, style: 'oauth2' as const, clientId: CLIENT_ID }, logout: false as const }
    const tabs = [tab(name, options), tab(name, options)]
    const fell: string[] = []
    const logouts: string[] = []
    for (const t of tabs) {
      t.on('worker-fallback', e => fell.push(e.reason))
      t.on('logout', e => logouts.push(e.reason))
    }
    const tabRotations = tabs.map(rotationsBy)
    const a = tabs[0]!
    const { code, verifier } = await authorize(srv.issuer)
    await a.start(await a.dpopFetch(`${srv.issuer}/token`, { method: 'POST', body: codeExchange(code, verifier) }))
    await waitFor(() => tabs.every(t => t.state.status === 'active'))
    const hub = worker.hubs.get(`rotor-auth:${name}`)
    const workerRotations = rotationsBy(hub!.session!)

    // 12 s of traffic from both tabs: about five rotations, each asked for by whichever tab needs it first.
    const duration = 12_000
    const started = Date.now()
    let sent = 0
    let failed = 0
    const loop = async (t: Session) => {
      while (Date.now() - started < duration) {
        sent++
        try {
          const res = await t.fetch(`${srv.api}/api/items?n=${sent}`)
          if (res.status !== 200) failed++
          await res.body?.cancel()
        } catch {
          failed++
        }
        await sleep(60)
      }
    }
    await Promise.all(tabs.map(loop))
    const elapsed = Date.now() - started

    const { seen } = srv
    const minimum = Math.ceil(elapsed / (AT_S * 1000)) - 1
    const tokenProofs = seen.proofs.filter(p => decodeJwt(p)['htu'] === `${srv.issuer}/token`)
    const tabKey = await thumbprintOfProof(await a.dpopProof('GET', `${srv.api}/api/x`))
    const stored = await loadKeyPair(`rotor-auth:${name}`, 'ES256', keyPlatform)
    console.log(
      `DPoP worker (Node) ${elapsed} ms: ${sent} requests (${failed} failed), refreshes ${seen.refreshes} by the worker ${workerRotations()} (minimum ${minimum}), ` +
        `token endpoint proofs ${tokenProofs.length}, errors ${JSON.stringify(seen.grantErrors)}, thumbprints ${seen.thumbprints.size}`,
    )
    expect(fell).toEqual([])
    expect(logouts).toEqual([])
    expect(failed).toBe(0)
    expectCleanRun(seen, sent, minimum)
    // The worker made every refresh; no tab made one.
    expect(workerRotations()).toBe(seen.refreshes)
    expect(tabRotations.map(count => count())).toEqual([0, 0])
    // The login's and every refresh's proof (nonce retries too) came from the tabs' key, the one stored in IndexedDB.
    expect(tokenProofs.length).toBeGreaterThan(seen.refreshes)
    expect(new Set(await Promise.all(tokenProofs.map(thumbprintOfProof)))).toEqual(new Set([tabKey]))
    expect([...seen.thumbprints]).toEqual([tabKey])
    expect(tabKey).toBe(await calculateJwkThumbprint(await exportJWK(stored.publicKey)))
    expect(new Set(seen.jtis).size).toBe(seen.jtis.length)
  }, 60_000)

  it('the worker remembers the token endpoint’s nonce, and logs out with a proof of the tabs’ key and `Authorization: DPoP`', async () => {
    type Seen = { path: string; authorization: string; proof: JWTPayload | undefined; thumbprint: string | undefined; body: string }
    const seen: Seen[] = []
    let issued = 0
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', c => chunks.push(c as Buffer))
      req.on('end', async () => {
        const dpop = req.headers['dpop']
        const proof = typeof dpop === 'string' ? (await jwtVerify(dpop, EmbeddedJWK, { typ: 'dpop+jwt' })).payload : undefined
        const thumbprint = typeof dpop === 'string' ? await thumbprintOfProof(dpop) : undefined
        const body = Buffer.concat(chunks).toString()
        seen.push({ path: req.url!, authorization: req.headers.authorization ?? '', proof, thumbprint, body })
        const send = (status: number, answer: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers })
          res.end(JSON.stringify(answer))
        }
        if (req.url === '/token') {
          if (proof?.['nonce'] !== 'n1') return send(400, { error: 'use_dpop_nonce' }, { 'dpop-nonce': 'n1' })
          issued++
          return send(200, { access_token: `at${issued + 1}`, refresh_token: `rt${issued + 1}`, token_type: 'DPoP', expires_in: 60 })
        }
        send(200, {})
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise<void>(resolve => (server.closeAllConnections(), server.close(() => resolve()))))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const name = `dpop-worker-${++n}`
    const options = { scope: `${url}/api`, refresh: { url: `${url}/token`, style: 'oauth2' as const, clientId: 'app' }, logout: `${url}/logout` }
    const a = tab(name, options)
    const b = tab(name, options)
    await a.start({ accessToken: 'at1', refreshToken: 'rt1', tokenType: 'DPoP', expiresIn: 60 })
    await waitFor(() => b.state.status === 'active')
    const tabKey = await thumbprintOfProof(await a.dpopProof('GET', `${url}/api`))

    await b.rotate()
    await a.rotate()
    const token = seen.filter(s => s.path === '/token')
    // The first refresh learns the nonce (refused before the RT is read, so rt1 is presented
    // once more); the second carries it at once: the worker remembered it.
    expect(token.map(s => [s.proof?.['nonce'] ?? null, new URLSearchParams(s.body).get('refresh_token')])).toEqual([
      [null, 'rt1'],
      ['n1', 'rt1'],
      ['n1', 'rt2'],
    ])
    expect(token.map(s => s.thumbprint)).toEqual([tabKey, tabKey, tabKey])
    expect(token.every(s => s.proof?.['htu'] === `${url}/token` && s.proof['htm'] === 'POST' && s.proof['ath'] === undefined)).toBe(true)

    await a.logout()
    const logout = seen.filter(s => s.path === '/logout')
    expect(logout).toHaveLength(1)
    expect(logout[0]).toMatchObject({ authorization: 'DPoP at3', thumbprint: tabKey, proof: { htm: 'POST', htu: `${url}/logout`, ath: ath('at3') } })
    expect(JSON.parse(logout[0]!.body)).toEqual({ refreshToken: 'rt3' })
    await waitFor(() => b.state.status !== 'active')
  }, 30_000)

  it('a login a tab makes for the worker that is bound to another key is refused: the session ends instead of adopting it', async () => {
    const refreshes: string[] = []
    const server = createServer((req, res) => {
      if (req.url === '/token') refreshes.push(String(req.headers['dpop'] !== undefined))
      res.writeHead(req.url === '/token' ? 400 : 200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(req.url === '/token' ? { error: 'invalid_grant' } : {}))
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise<void>(resolve => (server.closeAllConnections(), server.close(() => resolve()))))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const name = `dpop-worker-${++n}`
    const elsewhere = new UnsecuredJWT({ cnf: { jkt: 'another-key' } }).setExpirationTime('1h').encode()
    let asked = 0
    const reauthenticate = async () => (asked++, { accessToken: elsewhere, refreshToken: 'rt-elsewhere', tokenType: 'DPoP', expiresIn: 60 })
    const options = { scope: `${url}/api`, refresh: { url: `${url}/token`, style: 'oauth2' as const, clientId: 'app' }, logout: false as const, reauthenticate }
    const a = tab(name, options)
    const logouts: string[] = []
    a.on('logout', e => logouts.push(e.reason))
    await a.start({ accessToken: 'at1', refreshToken: 'rt1', tokenType: 'DPoP', expiresIn: 60 })
    await expect(a.rotate()).rejects.toThrow()
    // The worker's refresh (with a proof) was refused; the tab's login ran, and its grant was not taken.
    expect(refreshes).toEqual(['true'])
    expect(asked).toBe(1)
    await waitFor(() => a.state.status === 'signed-out')
    expect(logouts).toEqual(['rejected'])
    expect(worker.hubs.get(`rotor-auth:${name}`)?.session?.state.status).toBe('signed-out')
  }, 30_000)

  it('a page that says a malformed config.dpop is refused by the worker', async () => {
    const hub = createHub('dpop-forged')
    const { port1, port2 } = new MessageChannel()
    closers.push(() => (port1.close(), port2.close()))
    hub.connect(port2 as never)
    const answer = new Promise(resolve => (port1.onmessage = e => resolve(e.data)))
    const config = {
      transport: 'bearer',
      rotation: 'request',
      refresh: { url: 'http://127.0.0.1:1/token', style: 'oauth2' },
      logout: false,
      headers: [],
      rotateAt: 0.8,
      refreshTimeout: 1000,
      refreshRetries: 0,
      queueTimeout: 1000,
    }
    port1.postMessage({ w: 'hello', id: 1, version: PROTOCOL_VERSION, reauthenticates: false, config: { ...config, dpop: { alg: 'RS256', key: 'rotor-auth:x' } } })
    expect(await answer).toEqual({ w: 'refused', id: 1, code: 'ERR_INVALID_OPTION', reason: expect.stringMatching(/config\.dpop/) })
    expect(hub.session).toBeUndefined()
  })
})
