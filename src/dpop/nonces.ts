/** DPoP nonces (RFC 9449 §8, §9): the last `DPoP-Nonce` each server origin gave, and whether an answer asks for the request again with a new proof. */

/** What is read of an answer: a fetch Response, or an XHR's status and headers (which has no body to read here). */
export type Answer = {
  status: number
  headers: { get(name: string): string | null }
  clone?: () => { json(): Promise<unknown> }
}

export class NonceMemory {
  readonly #byOrigin = new Map<string, string>()

  get(origin: string): string | undefined {
    return this.#byOrigin.get(origin)
  }

  /** Keeps the nonce an answer carries (servers may send a new one on any answer). */
  remember(origin: string, response: Answer): void {
    const nonce = response.headers.get('dpop-nonce')
    if (nonce) this.#byOrigin.set(origin, nonce)
  }
}

/**
 * True when `response` refuses the proof, not the tokens, so that the same request with a new
 * proof may pass: the token endpoint's `400 {"error":"use_dpop_nonce"}` (§8) or a resource
 * server's `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"` (§9), each with a new
 * nonce; or a resource server's `401` `error="invalid_dpop_proof"` (§7.1): a browser may resend
 * an idempotent request verbatim after a connection error (RFC 9110 §9.2.2), and a server that
 * remembers `jti`s refuses the copy; rotating for it would spend an RT for nothing. Anything
 * else (a refused RT, an expired AT) is the caller's answer. The body is read from a clone.
 */
export async function asksForNewProof(response: Answer, sent: string | undefined): Promise<boolean> {
  if (response.status === 401) return refusesProof(response, sent)
  const nonce = response.headers.get('dpop-nonce')
  // No new nonce to retry with: retrying would only repeat the refusal.
  if (response.status !== 400 || !response.clone || !nonce || nonce === sent) return false
  try {
    const body = (await response.clone().json()) as { error?: unknown }
    return body.error === 'use_dpop_nonce'
  } catch {
    return false
  }
}

/** The resource server's half of asksForNewProof, read from the status and headers alone (an XHR's answer). */
export function refusesProof(response: Answer, sent: string | undefined): boolean {
  if (response.status !== 401) return false
  const challenge = response.headers.get('www-authenticate') ?? ''
  if (/invalid_dpop_proof/.test(challenge)) return true
  const nonce = response.headers.get('dpop-nonce')
  // No new nonce to retry with: retrying would only repeat the refusal.
  return !!nonce && nonce !== sent && /use_dpop_nonce/.test(challenge)
}
