/** The refresh tokens this tab moved past, kept as hashes: a state that brings one back is a replay. */

/**
 * How many spent refresh tokens (as hashes) a tab remembers, past those known to have expired:
 * a rotation every minute for a week. (A ring of 16 let a state recorded 17 rotations earlier
 * move a tab back onto its spent RT.)
 */
const SPENT_KEPT = 10_000

/** FNV-1a over the token, two 32-bit lanes: the memory holds no refresh token, only this. */
function tokenHash(token: string): string {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ token.length
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
  }
  return (a >>> 0).toString(36) + (b >>> 0).toString(36)
}

export class SpentTokens {
  readonly #now: () => number
  /** Hash → the RT's expiry (null: unknown). */
  readonly #spent = new Map<string, number | null>()

  constructor(now: () => number) {
    this.#now = now
  }

  /** `token` (expiring at `expiresAt`) was moved past: it must never be taken back. */
  remember(token: string, expiresAt: number | null): void {
    this.#spent.set(tokenHash(token), expiresAt)
    if (this.#spent.size > SPENT_KEPT) this.#forget()
  }

  has(token: string): boolean {
    return this.#spent.has(tokenHash(token))
  }

  /** Expired RTs first (a server refuses them anyway), then the oldest. */
  #forget(): void {
    const now = this.#now()
    for (const [hash, expiresAt] of this.#spent) if (expiresAt !== null && expiresAt <= now) this.#spent.delete(hash)
    for (const hash of this.#spent.keys()) {
      if (this.#spent.size <= SPENT_KEPT) break
      this.#spent.delete(hash)
    }
  }
}
