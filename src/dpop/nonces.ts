/** DPoP nonces (RFC 9449 §8, §9): the last `DPoP-Nonce` each server origin gave, and whether an answer asks for a retry with it. */

export class NonceMemory {
  readonly #byOrigin = new Map<string, string>()

  get(origin: string): string | undefined {
    return this.#byOrigin.get(origin)
  }

  /** Keeps the nonce an answer carries (servers may send a new one on any answer). */
  remember(origin: string, response: Response): void {
    const nonce = response.headers.get('dpop-nonce')
    if (nonce) this.#byOrigin.set(origin, nonce)
  }
}

/**
 * True when `response` refuses the proof only for its nonce and gave a new one: the token
 * endpoint's `400 {"error":"use_dpop_nonce"}` (§8) or a resource server's `401` with
 * `WWW-Authenticate: DPoP error="use_dpop_nonce"` (§9). Anything else (a refused RT, an expired
 * AT) is the caller's answer. The body is read from a clone: the response stays whole.
 */
export async function asksForNonce(response: Response, sent: string | undefined): Promise<boolean> {
  const nonce = response.headers.get('dpop-nonce')
  // No new nonce to retry with: retrying would only repeat the refusal.
  if (!nonce || nonce === sent) return false
  if (response.status === 401) return /use_dpop_nonce/.test(response.headers.get('www-authenticate') ?? '')
  if (response.status !== 400) return false
  try {
    const body = (await response.clone().json()) as { error?: unknown }
    return body.error === 'use_dpop_nonce'
  } catch {
    return false
  }
}
