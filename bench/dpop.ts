/**
 * DPoP's cost per request: Rotor's proof, and a whole managed request with it, each paired
 * against the same work written by hand with jose (SignJWT with the same header and claims, the
 * same kind of key, the same `ath` hash), both sending to one in-memory fetch.
 */
import { randomUUID } from 'node:crypto'
import { SignJWT, exportJWK } from 'jose'
import { loadRotor } from './lib/rotor.js'
import { median, QUICK, spread } from './lib/mode.js'
import { nsPerCall, paired, ratios, type Task } from './lib/paired.js'
import type { Section } from './table.js'

const RUNS = QUICK ? 5 : 15
const ROUNDS = QUICK ? 6 : 12
const BATCH = QUICK ? 100 : 200

const API = 'http://api.test/api/items'
const AT = 'at-' + 'x'.repeat(600)
const encoder = new TextEncoder()

/** The network, answered at once, so the pair differs only in what each does before sending. */
const answered: typeof fetch = async () => new Response(null, { status: 200 })

/** The hand-written client: a non-extractable ES256 key, and a proof per request as RFC 9449 §4.2 says. */
async function handWritten() {
  const { privateKey, publicKey } = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair
  const { kty, crv, x, y } = await exportJWK(publicKey)
  const jwk = { kty: kty!, crv: crv!, x: x!, y: y! }
  const proof = async (method: string, url: string, accessToken: string) => {
    const target = new URL(url)
    const ath = Buffer.from(await crypto.subtle.digest('SHA-256', encoder.encode(accessToken))).toString('base64url')
    return new SignJWT({ htm: method, htu: `${target.origin}${target.pathname}`, jti: randomUUID(), ath })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
      .setIssuedAt()
      .sign(privateKey)
  }
  const request = async () => {
    const headers = new Headers({ authorization: `DPoP ${AT}`, dpop: await proof('GET', API, AT) })
    const res = await answered(API, { headers })
    await res.body?.cancel()
  }
  return { proof, request }
}

async function rotorSession() {
  const { createSession } = await loadRotor()
  const session = createSession({
    scope: 'http://api.test/api',
    transport: 'bearer',
    refresh: { url: 'http://auth.test/token', style: 'oauth2', clientId: 'bench' },
    logout: false,
    fetch: answered,
    dpop: true,
  })
  await session.start({ accessToken: AT, refreshToken: 'rt', tokenType: 'DPoP', expiresIn: 3600 })
  return session
}

export async function runDpop(): Promise<Section> {
  const session = await rotorSession()
  const hand = await handWritten()
  const tasks = {
    rotorProof: { name: "Rotor: session.dpopProof('GET', url, { accessToken })", one: () => session.dpopProof('GET', API, { accessToken: AT }) },
    joseProof: { name: 'by hand: jose SignJWT, same header, claims, key type and ath', one: () => hand.proof('GET', API, AT) },
    rotorRequest: {
      name: 'Rotor: session.fetch(url), DPoP <AT> + proof',
      one: async () => {
        const res = await session.fetch(API)
        await res.body?.cancel()
      },
    },
    joseRequest: { name: 'by hand: fetch(url) with DPoP <AT> + a jose proof', one: hand.request },
  } satisfies Record<string, Task>
  const proofs = await paired([tasks.rotorProof, tasks.joseProof], { runs: RUNS, rounds: ROUNDS, batch: BATCH })
  const requests = await paired([tasks.rotorRequest, tasks.joseRequest], { runs: RUNS, rounds: ROUNDS, batch: BATCH })
  session.dispose()
  const proofRatio = ratios(proofs, tasks.rotorProof, tasks.joseProof)
  const requestRatio = ratios(requests, tasks.rotorRequest, tasks.joseRequest)
  const us = (ns: number) => Math.round(ns / 100) / 10
  const signed = (n: number) => (n < 0 ? `−${-n}` : `+${n}`)
  const rows = [
    [tasks.rotorProof.name, us(nsPerCall(proofs, tasks.rotorProof)), spread(proofRatio)],
    [tasks.joseProof.name, us(nsPerCall(proofs, tasks.joseProof)), '1.00'],
    [tasks.rotorRequest.name, us(nsPerCall(requests, tasks.rotorRequest)), spread(requestRatio)],
    [tasks.joseRequest.name, us(nsPerCall(requests, tasks.joseRequest)), '1.00'],
  ]
  return {
    title: 'DPoP: signing per request',
    method:
      `ES256, one non-extractable key each; ${RUNS} runs × ${ROUNDS} rounds × ${BATCH} sequential calls per task, paired (bench/lib/paired.ts), ` +
      'the fetch answered in memory. Ratio: Rotor ÷ the hand-written jose client, median (min–max) of the runs.',
    table: { columns: ['task', 'µs per call', 'ratio vs by hand'], rows },
    verdicts: [
      `a proof costs ${us(nsPerCall(proofs, tasks.rotorProof))} µs with Rotor, ${spread(proofRatio)}× the hand-written jose proof; ` +
        `a whole managed request ${spread(requestRatio)}× the hand-written one (${signed(us((median(requestRatio) - 1) * nsPerCall(requests, tasks.joseRequest)))} µs per request)`,
    ],
  }
}
