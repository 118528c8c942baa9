/**
 * The socket's companion for servers that take a DPoP proof: a real `ws` server checks the proof
 * each connection's auth message carries (signature by the embedded key, `htm`/`htu` of the
 * handshake, `ath` of the AT it came with, the session's key), across a rotation that
 * reconnects with the new AT and a new proof. Tokens from the real oidc-provider fixture.
 */
import { createHash } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { createSession, type Session } from '../../src/index.js'
import { createSocket, type RotorSocket } from '../../src/socket/index.js'
import { waitFor } from '../helpers/index.js'
import { NodeWebSocket } from '../socket/helpers.js'
import { authorize, CLIENT_ID, codeExchange, startAuthServer, type AuthServer } from './provider.js'

type Checked = { token: string; ath: boolean; htm: unknown; htu: unknown; thumbprint: string; jti: unknown }

let server: AuthServer | undefined
let wss: WebSocketServer | undefined
const closers: Array<{ close(): unknown } | { dispose(): unknown }> = []
afterEach(async () => {
  for (const c of closers.splice(0)) {
    if ('dispose' in c) c.dispose()
    else c.close()
  }
  await new Promise(resolve => (wss ? wss.close(resolve) : resolve(undefined)))
  await server?.close()
  server = wss = undefined
})

/** A socket server that authenticates by message: `{ type: 'auth', token, dpop }`, the proof verified as a resource server would. */
async function startProofServer(): Promise<{ url: string; checked: Checked[] }> {
  const checked: Checked[] = []
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise(resolve => wss!.once('listening', resolve))
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/live`
  wss.on('connection', socket => {
    socket.once('message', async data => {
      const { token, dpop } = JSON.parse(String(data)) as { token: string; dpop: string }
      try {
        const { payload, protectedHeader } = await jwtVerify(dpop, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] })
        checked.push({
          token,
          ath: payload['ath'] === createHash('sha256').update(token).digest('base64url'),
          htm: payload['htm'],
          htu: payload['htu'],
          thumbprint: await calculateJwkThumbprint(protectedHeader.jwk!),
          jti: payload.jti,
        })
        socket.send(JSON.stringify({ type: 'authenticated' }))
      } catch {
        socket.close(4401, 'bad proof')
      }
    })
  })
  return { url, checked }
}

describe('DPoP for sockets: the proof a server that takes one gets from session.dpopProof', () => {
  it('each connection authenticates with a proof for the handshake URL and its AT; a rotation reconnects with the new AT and a new proof', async () => {
    const srv = (server = await startAuthServer({ accessTokenTtl: 30 }))
    const session: Session = createSession({
      scope: `${srv.api}/api`,
      transport: 'bearer',
      refresh: { url: `${srv.issuer}/token`, style: 'oauth2', clientId: CLIENT_ID },
      logout: false,
      dpop: true,
    })
    closers.push(session)
    const { code, verifier } = await authorize(srv.issuer)
    await session.start(await session.dpopFetch(`${srv.issuer}/token`, { method: 'POST', body: codeExchange(code, verifier) }))
    const { url, checked } = await startProofServer()
    // The handshake is an HTTP GET to the socket's http(s) URL (RFC 6455 §3): that is its `htu`.
    const handshake = url.replace(/^ws/, 'http')

    // docs/guides/dpop.md's recipe: the proof is signed before each connect (url may be async), sent in
    // the auth message; no onRotate, so a new AT comes with a new connection and a new proof.
    let proof: string | undefined
    const socket: RotorSocket = createSocket(session, {
      WebSocket: NodeWebSocket,
      url: async ctx => {
        proof = await session.dpopProof('GET', handshake, { accessToken: ctx.token! })
        return url
      },
      authMessage: ctx => ({ type: 'auth', token: ctx.token, dpop: proof }),
    })
    closers.push(socket)
    await waitFor(() => socket.status === 'open', { timeout: 10_000 })
    const first = await session.accessToken()
    await session.rotate()
    const second = await session.accessToken()
    expect(second).not.toBe(first)
    await waitFor(() => checked.length === 2 && socket.status === 'open', { timeout: 10_000 })

    const key = await calculateJwkThumbprint(JSON.parse(Buffer.from(proof!.split('.')[0]!, 'base64url').toString()).jwk)
    expect(checked.map(c => c.token)).toEqual([first, second])
    for (const c of checked) {
      expect(c).toMatchObject({ ath: true, htm: 'GET', htu: handshake, thumbprint: key })
    }
    // The key that signed the sockets' proofs is the one the AT is bound to: the one every
    // resource request of this session is signed with.
    expect(srv.seen.thumbprints).toEqual(new Set([key]))
    expect(checked[0]!.jti).not.toBe(checked[1]!.jti)
  }, 30_000)
})
