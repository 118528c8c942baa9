/** The simulator's named seeds: counterexamples still open (each must keep failing as listed) and fixed ones kept as regression seeds. */
import type { InvariantName } from './invariants.js'

/**
 * Counterexamples the simulator found that are not fixed yet, each a regression seed: it must
 * still break the invariant listed (when a fix makes it pass, its test goes red: move it to
 * REGRESSION_SEEDS). docs/simulation.md describes each.
 */
export const OPEN_FINDINGS: Record<number, InvariantName> = {}

/** The same for worlds without Web Locks (`--no-locks`: schedules.test.ts runs a range of them). */
export const OPEN_FINDINGS_NO_LOCKS: Record<number, InvariantName> = {}

/**
 * The same for the extended model with Web Locks (`--extended`), with no zoo defect on: zoo.test.ts
 * does not count a catch on these seeds as the defect's. None open (122, 339, 698, found once the
 * forger's messages reached the tabs, are 540's shape; 20582 is fixed: REGRESSION_SEEDS_EXTENDED).
 */
export const OPEN_FINDINGS_EXTENDED: Record<number, InvariantName> = {}

/**
 * The same for the extended model without Web Locks (`--extended --no-locks`), with no zoo
 * defect on: zoo.test.ts does not count a catch on these seeds as the defect's.
 */
export const OPEN_FINDINGS_EXTENDED_NO_LOCKS: Record<number, InvariantName> = {}

/**
 * Seeds that once broke an invariant, kept passing: each names the defect it found.
 * - 248 (also 30125, 30206, 30374, 31690): tabs signed out at a higher generation never adopted
 *   a later login made, at a lower one, in a tab that found nothing stored (a signed-out tab did
 *   not answer `hello`; src/core/sync.ts #answer).
 * - 32347 (also 31885): a refresh answered 200 whose body never arrives: the give-up timer was
 *   cancelled once the headers were in, the lock stayed held, requests never settled
 *   (src/core/refresh-call.ts keeps it armed until the body is read).
 * - 490 (also 973, 2152, 3930, 4175, 6714, 6849, 7173, 8498, 30629, 100364, 100623): a hook that failed
 *   (or was dismissed) after the user had signed out and in again in another tab ended the new
 *   session (src/core/relogin.ts: a failed hook ends nothing once a newer login is active).
 * - 198742 (`converges`, cookie): a page reloaded the instant after a login said hello to a peer
 *   the login's state had not reached yet; the peer adopted it a moment later and told nobody
 *   (src/core/sync.ts #helloOwed: a hello heard while not active is answered once a session is adopted).
 * - 813147 (`no-unasked-logout`, bearer): the user signed out and in again while a `reauthenticate`
 *   hook stayed open; the page then reloaded and its dispose marked the *new* login "ending", so the
 *   next tab to rotate called its hook, which was dismissed, and ended the live session
 *   (src/core/relogin.ts: a dispose hands over only a login still owed).
 * - 567250, 707933 (`converges`): a page reloaded with its `reauthenticate` hook open, 307's shape
 *   in the classic model (its "ending" mark never written); pass with 307's fix.
 * - 484799, 776231 (`converges`): 198742's shape (a hello heard before the login's state); pass
 *   with #helloOwed.
 * - 14078, 333176 (`no-unasked-logout`, cookie): a tab opened after the wall clock moved forward
 *   (it saw no jump) took both tokens of the stored state for dead and ended the session without
 *   asking the server (src/core/policy.ts end(): a state issued before the tab's clock watch began
 *   is checked with the server once; a refusal ends it `rejected`).
 * - 993927 (also 600234, 972557, and 52691, 973586 of the same shape; `no-unasked-logout`, cookie):
 *   nothing usable stored, a new tab's login was numbered from 0; a tab frozen meanwhile thawed and
 *   answered its hello with an older session's logout at a higher generation, which ended the login
 *   (src/core/login-order.ts: a login outlives another login's end made before it, and renumbers).
 * - The model's own (test/sim/tab.ts, origin.ts, world.ts, schedule.ts): a page that is gone or
 *   frozen ran code. 371, 102399, 103109, 27684, 35140 (`request-settles`) and 12441
 *   (`rt-presented-twice`): a resume drawn before a crash woke the crashed tab, whose session
 *   took the rotation lock and held it for good; 21130, 34116, 35298, 40131
 *   (`rt-presented-twice`): the user acted in a frozen tab and its lock grant ran there, before
 *   the messages waiting for it; 1367, 22904 (`converges`), 3509, 11560, 33286, 36038, 38136
 *   (`no-unasked-logout`): a crashed tab's reauthenticate hook settled and its session ran on;
 *   319249 (`converges`): a login settling after its page reloaded wrote the session to storage, which
 *   only the extended model stopped then: a tab opened earlier never heard of it (world.ts #storageOf).
 * - The oracle's, stated too tightly: 7243 (`converges`): a timer rotation ended 5 ms before the
 *   run did and one tab's message was still on the channel (CONVERGE_GRACE_MS, schedule.ts);
 *   18369 (`no-unasked-logout`, cookie): a reloaded page's keepalive refresh set its cookies over a
 *   newer login's, which then lived on the server with no client holding it (server.ts jarHolds);
 *   54946 (`no-live-rt-after-logout`, cookie) is its twin: the logout revoked the family the jar
 *   held, and the orphaned login's lived on;
 *   68344, 101402 (`rt-presented-twice`, bearer): a page reloaded with its refresh on the wire,
 *   the next lock holder presented the RT and got the answer, then the dead page's call arrived:
 *   a call is the client's fault only if sent after the answer reached a client (server.ts);
 *   172884, 223372 (`rt-presented-twice`, cookie; the million run of this round): a page reloaded
 *   or crashed with its refresh on the wire, and that keepalive call's Set-Cookie landed 3.0 and
 *   5.0 s after it was sent, past the `refreshTimeout` (1 s, 3 s) the next lock holder waits for
 *   it (deadlines.ts inFlightLimitMs), which then presented the RT still in the jar: the documented
 *   cost, judged by when that call was sent (server.ts `landedLate`).
 * - The million run of round 3's last session (its first 50,000 schedules on that session's first code):
 *   12772 (`no-live-rt-after-logout`, bearer): the login form of `reauthenticate` answered and the
 *   user logged out before the session had published it; the logout presented the old login's
 *   tokens and the form's login stayed live (src/core/relogin.ts: a login the session ended before
 *   it was published is revoked; the end also closes the form, whose requests then settle).
 *   23085 (`no-live-rt-after-logout`, bearer): a tab frozen through another tab's re-authentication
 *   logged out the login it knew; the tabs holding the newer one ended without revoking it
 *   (src/core/relogin.ts #revokeUnnamed: an end naming another login revokes the one held).
 *   75255 (`lock-bounded`, cookie): a refresh stamp written before the wall clock was set back
 *   742 s lay in the future, and the next lock holder waited stamp + limit, 697 s, under the
 *   lock (src/core/rotator.ts: never past the limit; login-elsewhere.ts likewise).
 *   157893 (`rt-presented-twice`, cookie, no `persist`; 222090 is its twin): a page reloaded 23 ms
 *   after its refresh went on the wire; the tab it became joined by `hello`, took the lock and
 *   presented the RT that call had spent. Nothing stored says a refresh is on the wire without
 *   `persist`, and the live tab that heard its `rotating` kept it to itself
 *   (src/core/rotation-news.ts: a cookie tab's joining hello is answered with the rotation heard of, too).
 *   189535 (`no-unasked-logout`, bearer): the wall clock set forward 70 min, past the RT; a tab
 *   adopted a peer's state issued before the jump, which settled its clock watch's doubt, and
 *   ended `expired` without asking the server (src/core/policy.ts end(): a state issued before the
 *   last jump the tab saw is checked with the server once, as one issued before it watched).
 *   100025 (`no-unasked-logout`, cookie), the oracle's: a frozen tab's login was on its way (start()
 *   called) when it thawed and adopted a peer's login, then heard that login end, refused after an
 *   auth server restart; its own login was published above it a moment later. The end was the
 *   peer's login's (world.ts `#starting`).
 *   425704 (`no-live-rt-after-logout`, bearer, timer mode): a tab's refresh was answered after another
 *   tab's login reached it; the answer (the older login's next pair) was published under the newer
 *   login's name, which stayed live at the server, held by no tab, and the user's logout missed it
 *   (src/core/rotator.ts #supersededBy: such a pair is revoked, not published; src/core/sync.ts
 *   markEnding: the 2xx's "RT spent" mark lands only on the generation it refreshed, never on the
 *   newer login, which a first fix ended `rejected`).
 *   484692 (`no-live-rt-after-logout`, bearer, request mode): a frozen tab thawed with the user's
 *   login and then logout queued; the logout revoked the session it held, and start()'s login was
 *   published after it (src/core/logins.ts: a start() not yet published when logout() is called is
 *   refused with LoginSupersededError `by: 'logout'`, its bearer pair revoked; one already on its
 *   way to the store is published, then ended).
 * - Round 4's first session (its million's first 50,000, on round 3's final code):
 *   45637 (`rt-presented-twice`, cookie, no `persist`): a page reloaded 1.3 s after its refresh went
 *   on the wire; the live tab that heard its `rotating` took the lock, waited a second for news no
 *   gone page sends, and presented the RT; the gone page's keepalive call landed after it
 *   (src/core/sync.ts awaitElsewhere: with cookies, a heard rotation is waited for as long as a
 *   recorded one, `refreshTimeout` from when it was heard).
 *   12306 (`no-live-rt-after-logout`, bearer; its run on the first fixes): a frozen page's two queued
 *   logout() clicks ran as it woke; the second found the session ended here and resolved at once,
 *   before the first had asked the server (src/session.ts logoutOf: it resolves with the first).
 *   27020 (`no-live-rt-after-logout`, bearer), the oracle's: the `reauthenticate` form answered
 *   after the user's logout had told it to close; Rotor revoked that login, best effort, and the
 *   call met a proxy's 502. The world had taken it for the session's newest login (world.ts
 *   #reauthenticate: a login the form brings after its signal aborted is not the session's).
 */
export const REGRESSION_SEEDS = [
  248, 30125, 30206, 30374, 31690, 32347, 31885, 490, 973, 2152, 3930, 4175, 6714, 6849, 7173, 8498, 30629, 100364, 100623,
  // This round's (above).
  198742, 484799, 776231, 813147, 567250, 707933, 14078, 333176, 993927, 600234, 972557, 52691, 973586,
  // The model's own (above).
  319249, 371, 102399, 103109, 27684, 35140, 12441, 21130, 34116, 35298, 40131, 1367, 22904, 3509, 11560, 33286, 36038, 38136,
  // The oracle's (above).
  7243, 18369, 54946, 68344, 101402, 172884, 223372,
  // The million run of round 3's last session (above).
  12772, 23085, 75255, 157893, 222090, 189535, 100025, 425704, 484692,
  // Round 4's (above).
  45637, 12306, 27020,
]

/**
 * Seeds of the extended model (`runSchedule(seed, { extended: true })`, `npm run sim -- --extended`), kept passing.
 * - 307 (`rt-presented-twice`, bearer): a tab whose `reauthenticate` hook was open (its refresh's
 *   body never came) reloaded; the "ending" mark that tells the next lock holder the RT is dead was
 *   written only after the hook's abort, which a page that is gone never runs, and the next holder
 *   presented the RT again (src/core/relogin.ts endLocked: the mark is written before the hook).
 * - 393, 1012 (`rt-presented-twice`, bearer): 630's shape with Web Locks (below): a refresh answered
 *   200 whose body never came, the page crashed or reloaded before its give-up, and the next holder
 *   presented the RT the server had spent (src/core/rotator.ts: the "ending" mark at the 2xx's headers).
 * - 1441 (`refresh-budget`, cookie), the oracle's: 30 refreshes granted against 28 allowed, 25 in a
 *   90 s window where the API refused every AT; each of the window's five sessions (a reload is a
 *   new one) kept its own budget (3 per AT lifetime), which the allowance did not count
 *   (schedule.ts `refusingWindow`). 121 (bearer) is its twin, drawn once the mark above moved its draws.
 * - 540 (`dispose-releases`, bearer): a session disposed while its rotation was queued for the lock
 *   behind another tab's open reauthenticate() hook waited for that rotation, so it never closed
 *   (src/session.ts teardown: only a rotation holding the lock is waited for). 122, 339, 698: the
 *   same shape, found once the forger's messages reached the tabs.
 * - 23612 (`dispose-releases`, bearer; round 4, session 12), the oracle's once a disposed tab's
 *   refresh is finished as a live tab's: its attempt met two 503s, its retry's body hung, and the
 *   tab let go at that retry's give-up, past the oracle's bound of one attempt's from the dispose.
 *   The tab may now hold while an attempt it sent may still be answered, never past the longest a
 *   rotation may take (deadlines.ts `rotationLimitMs`), as documented (world.ts `unmount`).
 * - 20582 (`rt-presented-twice`, bearer, Web Locks; found by the sweep of 20,001–30,000 in round 4,
 *   session 12, failing so before it), Rotor's: t1 froze with the login's pair (gen 1); t3 rotated to
 *   gen 2 and told t1 (queued), then the app disposed t3 and mounted t4 in its page. t1 resumed and
 *   ran its queue in order: it answered t3's roll call (sent before the rotation) with gen 1, then
 *   took gen 2, and was disposed before it reached t4's `hello`. t4, joining with nothing, took the
 *   answer meant for t3 (gen 1, its RT spent), so did t5, and t4's rotation presented the spent RT.
 *   A bearer tab going away now tells its newest pair before its channel closes (src/core/sync.ts
 *   `close`): tokens travel by message only, and a tab behind may have it from nowhere else.
 * - 1479 (`rt-presented-twice`, bearer; round 4, session 13), broken by the first draft of 20582's
 *   fix: t6 rotated twice and reloaded with its third refresh on the wire (the newest pair lost);
 *   t5, frozen since before those rotations, was disposed, and on resuming told its stale pair (gen
 *   10; the store held 12). t7, the reloaded page, joined with nothing, took it, found the store
 *   ahead, asked twice, and presented its spent RT. A tab going away tells its pair only where the
 *   store holds nothing newer.
 * - 73106 (`dispose-releases`, bearer; round 4, session 13), the oracle's: a disposed tab's queued
 *   request for the primary lock (a queued request cannot be withdrawn) was granted 2 ms before the
 *   check, the grant's callback (which lets go at once) not yet run. The check now counts a lock
 *   only once its grant reached the tab (origin.ts `heldBy`).
 */
export const REGRESSION_SEEDS_EXTENDED = [307, 393, 1012, 1441, 121, 540, 122, 339, 698, 23612, 20582, 1479, 73106]

/**
 * The same for worlds without Web Locks, kept passing. 1164, 1347 (`request-settles`), 1663
 * (`converges`): the model's, a tab crashed before its session's leader lock had loaded; the load
 * finished after the crash, the dead tab joined the election and won it, and no live tab led
 * (election.ts: a tab that is gone leaves at once). 2531, 3331, 3563, 7825 (`rt-presented-twice`):
 * Rotor's, a follower that heard of a newer state ran its rotation without the claims, beside the
 * leader, and refreshed when its session did not adopt that state (leader-lock.ts `#asFollower`).
 * 5114, 7801 (`answered`, found by its first sweep, round 4, session 9): a claim heard before the
 * wall clock was set back counted for as long as the jump (its lapse read on the wall clock), its
 * holder long gone; the elected leader waited 543 s for it, no tab rotated, and every request was
 * held to its `queueTimeout`. Claims lapse on the monotonic clock now (src/coordinator/claims.ts).
 */
export const REGRESSION_SEEDS_NO_LOCKS = [1164, 1347, 1663, 2531, 3331, 3563, 7825, 5114, 7801]

/**
 * Seeds of the Redis model (`runRedisSchedule(seed)`, `npm run sim -- --redis`), kept passing.
 * - 3320 (`no-unasked-logout`): another client wrote garbage over the state; a process started
 *   after it found nothing, said hello, and logged in numbered from 0 before a live process's
 *   answer (late on pub/sub, generation 9) arrived and replaced the new login with the older
 *   session, whose family later died; the new login lived on the server held by nobody
 *   (src/redis/coordinator.ts #reseedOnce: a live member that hears a hello puts back the state
 *   the store lost, so the login is numbered above the live session).
 * - 1198 (`rt-presented-twice`), the model's: a process paused while its refresh was on the wire
 *   for less than half a lease, but past that refresh's final give-up (3 × refreshTimeout from its
 *   send); the answer had reached the paused process, which on resume gave it up for lost (its
 *   timers run first, as Node's do), and the next holder presented the RT the server had spent.
 *   A refresh given up for lost is the documented give-up (docs/guarantees.md, "given up at 3 ×"):
 *   the model no longer draws a pause past it (redis-world.ts #giveUpLeft).
 */
export const REGRESSION_SEEDS_REDIS = [3320, 1198]

/**
 * The same for the extended model without Web Locks, kept passing. 630 (`rt-presented-twice`,
 * bearer): the leader's refresh got a 2xx whose body never came, and the page froze, then
 * reloaded, before writing any verdict; the next leader presented the spent RT (src/core/rotator.ts:
 * the "ending" mark is written when a 2xx's headers arrive, and the grant replaces it). 346 (the
 * same, bearer): the app disposed the leader's session (an SPA unmounting it) after the 2xx's
 * headers and before its give-up; without Web Locks the next leader presented the spent RT. Failed
 * before the mark, found by the zoo-gap work of this round; passes with it. 552 and 503223
 * (`forged-request-ignored`, issue 32): a follower asked the leader for the newest generation it
 * knew (the store's, which the leader had just written) instead of the one its rotation was to
 * supersede, and the leader rotated again for a state the follower was about to adopt
 * (src/coordinator/leader-lock.ts: the rotate-request names LockOptions' `generation`).
 * 505491 (`converges`, bearer, issue 32's sweep): a login disposed as it published wrote the
 * store and posted nothing; the tab elected leader had read the store before, stayed signed out,
 * and ignored the active tab's rotate-requests (ahead of its generation) for good: that tab never
 * rotated again (src/core/rotate-requests.ts readAhead: a request ahead, not far ahead, has the leader
 * read the store, one read at a time, and weigh it again). 504059 (`converges`, cookie): another
 * script wrote a far-ahead state over the store; a tab opened after it took the forged generation
 * as a logout to count above, and no real state could supersede it (src/core/sync.ts #joinFrom:
 * a refused stored state is no logout). 41132 (`answered`, bearer, round 4, session 10), the
 * oracle's: a request-mode world arms no timer once idle, so the checks ran at its last event, not
 * after the quiet: probed 8 s after two rotate() calls and a wall clock set forward, the refresh
 * budget those spent deferred the rotation 27 s, past the probe's queueTimeout. The quiet now runs
 * out in an idle world too (test/sim/scheduler.ts `idleUntil`).
 * 30121 (cookie) and 37912 (bearer) (`forged-request-ignored`, timer mode; round 4, session 13,
 * the sweep of 30,001–38,000, failing so before it), Rotor's: a tab's refresh budget was spent and
 * its rotation deferred (9.8 s; 56 s); meanwhile the leader rotated and the tab adopted the new
 * generation, and when the deferral ran out the tab rotated that young generation (3.8 s; 10 s
 * old) for nothing: the forger's requests were only the oracle's suspects. A retry is of the
 * generation that failed: a newer one cancels it (src/core/policy.ts). 73392 (the same invariant,
 * cookie; the sweep of 66,001–76,000, failing so before), the oracle's: the leader crashed with its
 * refresh on the wire; the grant's cookie landed (keepalive) but no page learned its generation,
 * and the next leader's timer, due for the generation before, presented the RT that grant had
 * minted 11 s earlier. A grant whose answer reaches no page now explains the next refresh
 * (invariants.ts `grantLost`, server.ts `onGrantLost`). 100070 (`no-unasked-logout`, bearer; the
 * sweep of 100,001–106,000 in round 4, session 16, failing so on session 15's code), Rotor's: the
 * app disposed a tab whose refresh was out (a 200 whose body never came); the user signed in anew
 * in the next tab; the disposed tab, hearing no tab since its dispose, gave the refresh up as a
 * refusal and ended the session one generation above the new login, which every tab dropped while
 * it lived. A disposed tab now leaves a newer active state in the store standing and ends alone
 * (src/core/sync.ts `publishEnd`; test/behaviour/disposed-refusal-after-login.test.ts). 100878 (`stays-alive`, cookie,
 * timer mode; the same sweep, failing so before), Rotor's: the one tab, frozen as its rotation
 * timer ran out, resumed, lost the election it had led (no leader was left while it slept) and
 * waited as a follower for a rotation no tab made; that wait ran out, and nothing asked again: no
 * request came, and the AT died. A quiet rotation (the timer's) that fails so now goes again after a backoff
 * (src/core/policy.ts `#rotateQuietly`; test/unit/core/policy.test.ts).
 */
export const REGRESSION_SEEDS_EXTENDED_NO_LOCKS = [630, 346, 552, 503223, 505491, 504059, 41132, 30121, 37912, 73392, 100070, 100878]
