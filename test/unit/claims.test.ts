/** Unit tests for the claims on the rotation lock of tabs without Web Locks (src/coordinator/claims.ts), on virtual time: a claim heard lapses on the monotonic clock. */
import { describe, expect, test } from 'vitest'
import { Claims, type ClaimMessage } from '../../src/coordinator/claims.js'
import { SessionExpiredError } from '../../src/errors.js'
import { sleep, Waiters } from '../../src/utils/until.js'
import { virtualTime } from './core/virtual.js'

const SILENT_MS = 10_000

/** One tab's claims, posting into `posted`, on `time` (its monotonic clock left out with `wallOnly`). */
function claimsOn(time: ReturnType<typeof virtualTime>, posted: ClaimMessage[], wallOnly = false) {
  return new Claims({
    kit: { sleep, SessionExpiredError },
    id: 'tab-b',
    clock: { now: time.now, after: time.after, ...(wallOnly ? {} : { monotonic: time.monotonic }) },
    waiters: new Waiters(time.after),
    post: message => (posted.push(message), Promise.resolve(true)),
    holdLimitMs: 46_000,
    silentMs: SILENT_MS,
    closed: () => false,
  })
}

describe('Claims', () => {
  test("another tab's claim lapses after the silence limit on the monotonic clock, however far the wall clock was set back (sim `--no-locks` seed 7801)", async () => {
    const time = virtualTime()
    const posted: ClaimMessage[] = []
    const claims = claimsOn(time, posted)
    // A tab claims the lock, then goes (crashed: it never releases).
    claims.hear({ rotorLock: 1, t: 'claim', id: 'tab-a', at: time.now() })
    // The user sets the clock back 10 minutes.
    time.jump(-10 * 60_000)
    let held = false
    void claims.acquire().then(() => (held = true))
    await time.advance(SILENT_MS + 100)
    // Before: the claim's lapse was read on the wall clock, 10 minutes and 10 s away.
    expect(held).toBe(true)
    expect(posted.filter(m => m.t === 'claim')).toHaveLength(1)
  })

  test('without a monotonic clock the wall clock serves (a platform whose `now` was injected)', async () => {
    const time = virtualTime()
    const posted: ClaimMessage[] = []
    const claims = claimsOn(time, posted, true)
    claims.hear({ rotorLock: 1, t: 'claim', id: 'tab-a', at: time.now() })
    let held = false
    void claims.acquire().then(() => (held = true))
    await time.advance(SILENT_MS - 1_000)
    expect(held).toBe(false)
    await time.advance(1_100)
    expect(held).toBe(true)
  })
})
