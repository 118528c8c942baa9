/** One DPoP proof (RFC 9449 §4): a JWT signed with the session's key, bound to one method, one URL and, on resource requests, one access token. */
import type { Platform } from '../platform/types.js'

/** What signing takes from the platform: WebCrypto and the wall clock (for `iat`). */
export type ProofPlatform = Pick<Platform, 'crypto' | 'now'>

/**
 * The proof is a compact JWS made with WebCrypto, not with jose's SignJWT: jose's shared parts
 * (base64url, errors) would land in the chunks every page loads, as its decodeJwt did until the
 * main chunk got its own reader (README, Size), so signing through jose would make every session
 * pay for DPoP. A JWS
 * is three base64url parts; WebCrypto's ECDSA and Ed25519 signatures are already in JWS form
 * (r‖s, RFC 7518 §3.4). Both servers in the tests verify these proofs with jose.
 */

/** The public half of the key, as it goes into every proof's header. */
export type PublicJwk = { kty: string; crv: string; x: string; y?: string }

/** The signing half of the session's key and what the proofs' headers say about it. */
export type SigningKey = { alg: string; privateKey: CryptoKey; jwk: PublicJwk }

export type ProofClaims = {
  method: string
  url: URL
  /** Resource requests: the AT the proof goes with (its hash becomes `ath`). */
  accessToken?: string | undefined
  /** The server's last `DPoP-Nonce`, when it gave one. */
  nonce?: string | undefined
}

const encoder = new TextEncoder()

export function base64url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** base64url(SHA-256(text)): `ath` and the key's thumbprint. */
export const sha256 = async (crypto: Crypto, text: string) => base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text))))

/** The public key as a JWK with only its public members: `d` can never be there (the key is not extractable anyway). */
export async function publicJwk(crypto: Crypto, publicKey: CryptoKey): Promise<PublicJwk> {
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey)
  return y === undefined ? { kty: kty!, crv: crv!, x: x! } : { kty: kty!, crv: crv!, x: x!, y }
}

/** RFC 7638: SHA-256 of the required members in lexicographic order; what a server puts in `cnf.jkt`. */
export function thumbprintOf(crypto: Crypto, jwk: PublicJwk): Promise<string> {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
  return sha256(crypto, JSON.stringify(members))
}

/** WebCrypto's parameters for each JWS algorithm. */
function signing(alg: string): AlgorithmIdentifier | EcdsaParams {
  if (alg === 'ES256') return { name: 'ECDSA', hash: 'SHA-256' }
  if (alg === 'ES384') return { name: 'ECDSA', hash: 'SHA-384' }
  return { name: 'Ed25519' }
}

/**
 * A proof for one request. `htu` is the URL without query and fragment (§4.2); `jti` is fresh
 * every time, so no two proofs are alike and a server refuses one that was seen before. It is
 * WebCrypto's UUID, not `platform.randomId`: tabs and the worker all sign with one key, and an
 * id a test or simulator made predictable would repeat across them.
 */
export async function signProof(key: SigningKey, { method, url, accessToken, nonce }: ProofClaims, { crypto, now }: ProofPlatform): Promise<string> {
  const claims: Record<string, string | number> = {
    htm: method.toUpperCase(),
    htu: `${url.origin}${url.pathname}`,
    iat: Math.floor(now() / 1000),
    jti: crypto.randomUUID(),
  }
  if (nonce) claims['nonce'] = nonce
  // base64url(SHA-256(AT)): ties the proof to one AT, so it is no use with another.
  if (accessToken) claims['ath'] = await sha256(crypto, accessToken)
  const header = { typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk }
  const input = `${base64url(encoder.encode(JSON.stringify(header)))}.${base64url(encoder.encode(JSON.stringify(claims)))}`
  const signature = await crypto.subtle.sign(signing(key.alg), key.privateKey, encoder.encode(input))
  return `${input}.${base64url(new Uint8Array(signature))}`
}
