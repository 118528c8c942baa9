/** The refresh tokens this tab moved past, kept as hashes: a state that brings one back is a replay. */
import type { Snapshot } from '../types.js'

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

  /**
   * A tab moves from `held` to `next`: the RT it held is spent where `next` replaces it (another
   * RT, another grant, a mark of the RT refused). Not where `next` is the same grant told without
   * it (a worker run keeps it, and a tab's rejoin numbers it anew): a later rejoin to a new run
   * brings that RT back, and refused as spent, the tab ended the session while the run held it
   * live (sim `--worker --extended --no-locks` seed 169721).
   */
  leave(held: Snapshot, next: Snapshot): void {
    const token = held.refreshToken
    const told = next.refreshToken === undefined && next.issuedAt === held.issuedAt && !next.ending
    if (token === undefined || token === next.refreshToken || told) return
    this.#spent.set(tokenHash(token), held.refreshExpiresAt)
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
