/** One DPoP proof (RFC 9449 §4): a JWT signed with the session's key, bound to one method, one URL and, on resource requests, one access token. */
import { base64url, SignJWT, type JWK, type JWTPayload } from 'jose'

/** The signing half of the session's key and the public half as a JWK, ready for every proof's header. */
export type SigningKey = { alg: string; privateKey: CryptoKey; jwk: JWK }

export type ProofClaims = {
  method: string
  url: URL
  /** Resource requests: the AT the proof goes with (its hash becomes `ath`). */
  accessToken?: string | undefined
  /** The server's last `DPoP-Nonce`, when it gave one. */
  nonce?: string | undefined
}

/** base64url(SHA-256(AT)): the `ath` claim ties a proof to one AT, so a proof is no use with another. */
export async function accessTokenHash(accessToken: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))
  return base64url.encode(new Uint8Array(digest))
}

/**
 * A proof for one request. `htu` is the URL without query and fragment (§4.2); `jti` is fresh
 * every time, so no two proofs are alike and a server refuses one that was seen before.
 */
export async function signProof(key: SigningKey, { method, url, accessToken, nonce }: ProofClaims): Promise<string> {
  const claims: JWTPayload = { htm: method.toUpperCase(), htu: `${url.origin}${url.pathname}`, jti: crypto.randomUUID() }
  if (nonce) claims['nonce'] = nonce
  if (accessToken) claims['ath'] = await accessTokenHash(accessToken)
  return new SignJWT(claims).setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk }).setIssuedAt().sign(key.privateKey)
}
