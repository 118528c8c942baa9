/** The origin's adversarial script: forged channel messages, storms of rotate-requests, and foreign storage writes. */
import type { ForgedRequestWatch } from './invariants.js'
import type { Origin } from './origin.js'
import type { Scheduler } from './scheduler.js'
import { EPOCH, type Tab } from './tab.js'

const FORGED: unknown[] = [
  { rotor: 1, type: 'state', from: 'forger', snapshot: { generation: 2 ** 40, status: 'active', issuedAt: EPOCH, accessExpiresAt: EPOCH + 1, refreshExpiresAt: EPOCH + 2 } },
  { rotor: 1, type: 'state', from: 'forger', snapshot: { generation: 3, status: 'signed-out', reason: 'user' } },
  { rotor: 1, type: 'rotating', from: 'forger', generation: 1 },
  { rotor: 1, type: 'hello', from: 'forger' },
  { rotor: 1, type: 'rotate-request', from: 'forger', generation: 0 },
  'garbage',
  { rotor: 2, type: 'state' },
]
/** The name every session's `crossTab` takes (world.ts). */
export const CROSS_TAB_NAME = 'sim'
/**
 * The channel the sessions talk on: src/core/options.ts prefixes the `crossTab` name. Every forgery
 * is posted here (until issue 28 all but the rotate-request storm went to the bare name, which no
 * session opens, and reached no tab).
 */
const SESSION_CHANNEL = `rotor-auth:${CROSS_TAB_NAME}`
/** A generation no tab holds (real ones stay near 0; a jump past 2^20 is refused as forged). */
const FORGED_AHEAD = 2 ** 30
/** A state far ahead of any real one, with tokens a bearer tab could use: only plausible() stands between it and every tab (extended model). */
const FAR_AHEAD = {
  generation: FORGED_AHEAD,
  status: 'active',
  issuedAt: EPOCH,
  accessExpiresAt: EPOCH + 3_600_000,
  refreshExpiresAt: EPOCH + 3_600_000,
  accessToken: 'forged-at',
  refreshToken: 'forged-rt',
}

export class Forger {
  readonly #scheduler: Scheduler
  readonly #origin: Origin
  /** The extended model (stronger forgeries), and whether tabs have Web Locks (without, the leader takes rotate-requests). */
  readonly #config: { extended: boolean; locks: boolean }
  readonly #live: () => Tab[]
  /** Told of each forged rotate-request: `forged-request-ignored` judges the leader by them. */
  readonly #watch: ForgedRequestWatch | undefined

  constructor(scheduler: Scheduler, origin: Origin, config: { extended: boolean; locks: boolean }, live: () => Tab[], watch: ForgedRequestWatch | undefined) {
    this.#scheduler = scheduler
    this.#origin = origin
    this.#config = config
    this.#live = live
    this.#watch = watch
  }

  forge(): void {
    // One draw (the one a storm always took) picks a storm and its kind: at the newest generation, or at one no tab holds.
    const storm = this.#config.extended && !this.#config.locks ? this.#scheduler.random.next() : 1
    if (storm < 0.3) return this.#forgeRequests(20, storm < 0.15)
    const far = this.#config.extended && this.#scheduler.random.chance(0.3)
    const message = far ? -1 : this.#scheduler.random.int(0, FORGED.length - 1)
    this.#scheduler.note(`forge ${message}`)
    this.#origin.forge(SESSION_CHANNEL, far ? { rotor: 1, type: 'state', from: 'forger', snapshot: FAR_AHEAD } : FORGED[message])
  }

  /**
   * Extended model, tabs without Web Locks: a same-origin script asks the leader to rotate, over
   * and over, at the generation it holds (as a follower stuck behind would): only the leader's
   * once-per-generation rule stands between it and a rotation storm. `ahead`: at a generation no
   * tab holds, which a leader must ignore (`forged-request-ignored`).
   */
  #forgeRequests(left: number, ahead: boolean): void {
    if (left === 0) return
    const now = this.#scheduler.now
    const generation = ahead ? FORGED_AHEAD : Math.max(0, ...this.#live().map(tab => tab.session.state.generation))
    this.#scheduler.note(`forge rotate-request ${generation}`)
    if (ahead) this.#watch?.forged(now)
    else this.#watch?.stirred(now)
    this.#origin.forge(SESSION_CHANNEL, { rotor: 1, type: 'rotate-request', from: 'forger', generation })
    this.#scheduler.after(this.#scheduler.random.int(100, 2000), 'forge', () => this.#forgeRequests(left - 1, ahead))
  }

  /** Another script of the origin writes over whatever is stored. */
  foreignWrite(): void {
    const keys = this.#origin.storage.keys()
    if (keys.length === 0) return
    const key = keys[this.#scheduler.random.int(0, keys.length - 1)]!
    if (this.#config.extended && this.#scheduler.random.chance(0.3)) return this.#origin.storage.foreignWrite(key, JSON.stringify(FAR_AHEAD))
    this.#origin.storage.foreignWrite(key, this.#scheduler.random.chance(0.5) ? '{"generation":99999999,"status":"active"}' : 'not json')
  }
}
