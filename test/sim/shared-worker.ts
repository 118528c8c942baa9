/** The origin's rotation worker in the simulator: the real hub of src/worker/hub.ts on a platform of the scheduler, reached by tabs over port pairs whose messages the scheduler delivers. */
import { defaultPlatform } from '../../src/platform/defaults.js'
import type { Platform, SharedWorkerLike } from '../../src/platform/types.js'
import type { SessionOptions } from '../../src/types.js'
import { createHub, type Hub } from '../../src/worker/hub.js'
import type { Origin } from './origin.js'
import type { Scheduler } from './scheduler.js'
import type { ModelServer } from './server.js'
import type { InvariantName } from './invariants.js'

/**
 * Seeds of `--worker` that fail, with the invariant they break (1–300, npm test's range: none;
 * docs/simulation.md lists those found beyond it and not yet fixed).
 * The class that was here (all bearer, the worker killed by the browser: the tabs split, some
 * ending `rejected`) was Rotor's, and its seeds are in REGRESSION_SEEDS_WORKER below.
 *
 * Cookie worlds have none: the 33 cookie seeds that failed `converges` before (25, 35, 37, 39,
 * 42, 48, 53, 68, 70, 74, 86, 109, 113, 115, 117, 121, 126, 132, 134, 142, 156, 165, 181, 183,
 * 206, 233, 239, 248, 253, 256, 274, 288, 293, drawn when worker worlds were cookie only) pass:
 * a tab that fell back now tries the worker again and rejoins it (src/worker/link.ts). 149 and
 * 263 failed on the way there (a rejoin that took the worker's own end over a login the jar
 * held; a killed worker unnoticed by tabs that asked it nothing): `reconcile` and the heartbeat.
 *
 * 119619 (`no-live-rt-after-logout`, bearer), a documented limit: a tab frozen while it connected
 * fell back and its user signed in there, 4.6 s after another tab signed in through the worker,
 * and the wall clock was set back 23 minutes in between. Logins are dated on the wall clock
 * (`login.at`): the one started last looked the earlier, the other won when the tab rejoined
 * (link.ts `twoHolders`), and the dropped login, not revoked, stayed live after the logout.
 *
 * 3138 (`no-unasked-logout`, bearer; found by the sweep of 1–6,000 in round 4, session 9, failing
 * the same before it) is OPEN_FINDINGS_WORKER_EXTENDED's documented limit without the extended
 * model: the browser killed the worker 7 s before the tab that had signed in (the RT's only live
 * holder) was frozen, before its heartbeat noticed; the new run waited `RT_GRACE_MS` for the RT,
 * then asked a login form, which the user dismissed.
 *
 * 86685 (`no-unasked-logout`, bearer, one tab; found in round 4, session 11, failing so before it),
 * read in part: t2 signed in 1.8 s after the browser killed its run, before it noticed; it fell
 * back, rejoined a new run that took its login's RT, froze, and that run was killed too. On resume
 * its page's session asked the login form at once (`rejected`), the form failed, and the session
 * ended while the login's first RT, which reached t2 with its login answer, was never refreshed.
 * After the fallback t2's session had no RT to present (its rotation was refused locally): the RT
 * had gone to the run alone, the documented cost (a bearer RT dies with its run). The oracle counts
 * every participant an RT reached as a holder, t2 among them: likely the oracle's, not changed.
 * It passes since round 4, session 14 (180555's change: with Web Locks too, a fallen-back bearer
 * tab's rotation tries the worker first): REGRESSION_SEEDS_WORKER.
 *
 * 176392 (`no-unasked-logout`, bearer, one tab; the sweep of 170,001–178,000 in round 4, session 14,
 * failing so before it): the run's RT was refused and the tab's login form answered into it; the
 * run kept the form's RT alone (the documented cost: a bearer RT dies with its run), and when the
 * browser killed it the next run, holding none, ended the session while that login lived. The lead,
 * drafted in session 14 and not committed: a tab keeps the RT of the login its form made for the run
 * beside it, as it keeps its start()'s (keepTokens), and brings it to the next run. The draft fixed
 * it and 141033 (`--worker --extended --no-locks`), but with 180555's change it turned `--worker
 * --extended` 152138 (two form logins while the API refused every AT) into a failure
 * (`no-live-rt-after-logout`) not read in time.
 *
 * 157602 (`no-unasked-logout`, bearer; the sweep of 154,001–162,000 in round 4, session 13, failing
 * so before it; it fails the same without Web Locks): 3138's limit. The browser killed the run
 * 42.3 s in; t1, the login's tab and the RT's only live holder in a page, pinged it every 10 s and
 * froze at 51.9 s, 1.9 s into the ping that would have noticed; the new run waited `RT_GRACE_MS`,
 * then had no RT to present and ended.
 *
 * 182743 (`no-live-rt-after-logout`, bearer; the sweep of 182,001–185,000 in round 4, session 15,
 * failing the same on the code before it), read in part: the browser killed the run holding the
 * RT; the new run, holding none, was refused and asked a login form, in t5, which froze before the
 * form answered. The form's login (family 2) was made while t5 was frozen and reached its page on
 * resume, 2.2 s before the user logged out in t4: the logout went through the run (ended, origin
 * remote) and t4 called the endpoint holding no token, and family 2, in t5 on its way to the run,
 * was live when the logout was answered. 176392's family (a form's RT beside the run): open.
 *
 * 3138 and 182743 left the list in round 4, session 16, as did OPEN_FINDINGS_WORKER_EXTENDED's 110204:
 * the retry of a quiet rotation that failed with no retry armed (src/core/policy.ts) arms timers
 * their schedules did not have, and their later draws no longer reach their shapes, which stay open
 * (3138's limit; 176392's family).
 *
 * From the sweep of 206,001–220,000 (round 4, session 16), failing so on the code before it, read
 * in part: 214067 (`no-live-rt-after-logout`) is 119619 (t1 froze as it signed in, the wall clock
 * was set back 24 minutes, t2 signed in through the run; t1's older login looked the later and won
 * its rejoin, and t2's, dropped, was live after the logout); 208865 (`no-unasked-logout`) looks
 * 3138's limit (the browser killed the run, the login's tab froze 10 s later, and the session
 * ended `rejected` while that login lived).
 */
export const OPEN_FINDINGS_WORKER: Record<number, InvariantName> = {
  119619: 'no-live-rt-after-logout',
  176392: 'no-unasked-logout',
  157602: 'no-unasked-logout',
  214067: 'no-live-rt-after-logout',
  208865: 'no-unasked-logout',
}

/**
 * Seeds of `--worker` that failed and pass since their fix, each run by worker-seeds.test.ts.
 * All bearer with the worker killed (its run took the family's RT along, or the RT sat in a page
 * that signed in), all Rotor's (docs/simulation.md, "Tabs behind the rotation worker"):
 * - 183, 18 (`no-unasked-logout`, `converges`): a tab that fell back, holding no RT (the worker
 *   kept it), rotated on the page's lock, where it could only re-authenticate or end, while a new
 *   run held the family's RT (another tab had brought its login there). Its rejoin waited for
 *   that lock. Now such a rotation tries the worker first (link.ts `#rejoinFirst`).
 * - 56 (`no-unasked-logout`): the same, the RT in the page that had signed in, which had not yet
 *   noticed the kill: the rotation now waits on the new run, which that page joins with its RT.
 *   (A race remains, bounded by the hook: a login form settled before that page's ping fails
 *   ends the session there as the guide documents, and the oracle would name it.)
 * - 189, 202, 39 (`converges`): a new run started from a page's memory (active, no token) and
 *   refused the AT that a tab rejoining without an RT brought (bearer states without the RT were
 *   refused even by a run holding none): the tabs stayed apart, active and signed out. Now the AT
 *   wins one above over a token-less state (reconcile.ts `reconcile`), and a run holding no RT takes it
 *   (hub.ts `#acceptable`): every tab shares it until it expires, then re-authenticates.
 * - 793 (`no-live-rt-after-logout`, seeds 301–800): the user signed out in the tab that had
 *   signed in, right after the browser killed the worker; the tab asked the dead worker to call
 *   the logout endpoint and, unanswered, called nothing, leaving its login live. Now a worker
 *   that cannot end the session makes the tab call the endpoint with what it holds
 *   (src/coordinator/worker.ts `logout`; test/worker/killed-worker.test.ts).
 * - 101699, 503 (`no-unasked-logout`, issue 32's sweep of seeds 100,001–103,000): the browser
 *   killed the worker; a tab asked for a rotation, started a new run (no RT) and handed it its AT;
 *   the run's refresh held no RT and ended the session `rejected` everywhere, 3.5 s after the kill,
 *   while the tab that had signed in (503: frozen) still held the family's live RT. A session
 *   holding no RT now fails that rotation transiently while its AT lives (src/core/rotator.ts
 *   `#rtMayCome`), as docs/guides/worker.md said it would: the end comes at the AT's expiry.
 * - 100913 (`converges`, the same sweep after that fix): a reloaded tab had joined the worker's
 *   state by reading it; the worker was killed, and the tab fell back with nothing to bring a new
 *   run (its coordinator's `newest` counted what it heard and wrote, not what it read). The run,
 *   started from a page's memory (no token), kept its state, its session never took one, and the
 *   tab's rotations, asked of it, went unanswered for good (src/coordinator/replaceable.ts `read`).
 * - 1367, 100022, 102395, 102887 (`converges`; 102887 `no-live-rt-after-logout` on the way): two
 *   logins, one on each side. A tab frozen while it connected fell back and its user signed in on
 *   the page, while another tab signed in through the worker; a tab holding an RT never rejoined a
 *   worker holding another, so the two never met. Now they settle on the login started last (link.ts
 *   `twoHolders`, hub.ts `#renumbered`), dated when start() was called, not when its grant was read
 *   (src/core/logins.ts: the frozen tab's login looked the later one, and the logout ended the other).
 * - 101882, 102785 (`converges`, cookie, `persist`, the worker killed): a tab that fell back ended
 *   on the page (its hook dismissed) and wrote that end to the page's storage; a tab joining the new
 *   run brought it in its hello, and the hub told its own session alone: the run's tabs stayed
 *   active. A remembered state newer than the worker's is now told to its tabs as well (hub.ts `#hello`).
 * - 103517 (`no-live-rt-after-logout`, bearer): a login form answered after the worker's session
 *   had gone on (another login came); the worker had stopped waiting for it and dropped the grant,
 *   neither published nor revoked. The late answer now reaches the session, which revokes it
 *   (hub-tabs.ts `reauthenticate`, as relogin.ts does in a page).
 * - 104407 (`no-live-rt-after-logout`, bearer): the user logged out in a tab still active while the
 *   worker's new run had ended on its own (its AT expired, no RT: the killed run took it); the run
 *   called nothing and the tab, told done, neither. The tab's AT now goes with its logout, and a
 *   run without a session presents it (hub.ts `logout`, src/coordinator/worker.ts).
 * - 104016 (`no-live-rt-after-logout`, bearer): a tab given up as silent while its login form was
 *   open (another tab's form was asked) answered after the worker had closed its port: the login it
 *   made went nowhere and stayed live. A tab now revokes a login its form sent to a worker that is
 *   lost before a state with that login's AT came back (src/coordinator/worker.ts `#unadopted`).
 * - 111409 (`no-unasked-logout`, bearer, the worker killed twice): the tab that signed in held its
 *   login's RT, but its coordinator's newest state became the same grant numbered anew without
 *   tokens (the page's store keeps none), so it rejoined the third run as a tab without an RT and
 *   the run, holding none either, ended the session at RT_GRACE_MS. The same grant heard again now
 *   keeps the tokens the tab holds of it (reconcile.ts `keepTokens`).
 * - 109805 (`converges`, bearer): the worker's refresh was refused (a lost answer had spent the RT)
 *   and the run, re-authenticating, was killed; a new run started from a page's memory (the dying
 *   state without its AT), its session could not use it and stayed signed out, and the tabs, which
 *   held that state with its AT, kept asking it for a rotation it ignored. A rejoining tab now brings
 *   its AT to a run that holds none even while the state is ending (reconcile.ts `reconcile`): the run
 *   takes the re-authentication over, as a tab would.
 * - 110990 (`no-live-rt-after-logout`, bearer): two tabs signed in 3 s apart, the second frozen
 *   while its login was on its way: it numbered its login from the state before the first one, and
 *   both wrote one generation. The worker's session kept the first, the store the second; the logout
 *   left the one started last live. The hub now settles a login written at a generation it holds
 *   for another on the login started last, one generation above both (hub.ts `#tie`).
 * - 109069 (`no-live-rt-after-logout`, bearer, found by the end-of-run check that came with
 *   105650's): a tab frozen while the worker had asked its login form lost the worker, rejoined on a
 *   new port, and the form answered afterwards: the old port was down, so the grant was neither sent
 *   nor revoked. A form that answers after its line went down now revokes its login
 *   (src/coordinator/worker.ts `#reauthenticate`).
 * - 112408 (`no-unasked-logout`, bearer): the user set the clock 14 minutes forward while the hub
 *   probed the tabs (a login form open); measured on the wall clock, every tab looked silent for
 *   minutes, the hub dropped them all and its session ended. The hub's spans are now monotonic.
 * - 118848 (`converges`, bearer): the two logins of 110990, settled by the hub while the second
 *   tab's write was on its way; that tab adopted the hub's state, then entered its own older one.
 *   A publish now leaves a newer state adopted meanwhile standing (src/core/sync.ts).
 * - 133991 (`rt-presented-twice`, bearer, one tab): the tab was frozen with a ping out; on resume
 *   its limit ran out before the queued answer was read, it gave the worker up, closed its port on
 *   the worker's new state (the run ended with it), and presented the RT the run had rotated. A
 *   limit that ran out late now asks again (src/coordinator/worker.ts `#watch`).
 * - 214 (`answered`, bearer, found when the oracle gained `answered`): the clock was set back 10
 *   minutes; the refresh budget, on the wall clock, counted the refreshes of those minutes as just
 *   made and deferred the worker's rotation for a lifetime. It counts on the monotonic clock now.
 * - 2966 (`answered`, bearer): a run killed with the login its form had made (a bearer RT dies with
 *   its run), then the clock set back 10 minutes; the new run, holding no RT, waited for a tab to
 *   bring one while its AT lived, and on the set-back clock the AT, dead at the server, looked alive
 *   for as long as the jump. An AT issued "after now" is no longer waited on (src/core/rotator.ts
 *   `#rtMayCome`).
 * - 147, 152 (`no-unasked-logout`, bearer; round 4, session 11, with the model's runs kept while a
 *   page lives): 10859's shape (REGRESSION_SEEDS_WORKER_NO_LOCKS_EXTENDED). 82802 broke a draft of the
 *   oracle that came with its fix: a form's login its tab started went to the run and lost there to a
 *   later login (two-logins.ts: dropped, not revoked), and the end's check wanted it revoked.
 */
export const REGRESSION_SEEDS_WORKER = [
  18, 39, 56, 183, 189, 202, 793, 101699, 503, 100913, 1367, 100022, 102395, 102887, 101882, 102785, 103517, 104407, 104016, 111409, 109805, 110990, 109069, 112408, 118848,
  133991, 214, 2966, 147, 152, 82802, 86685,
]

/**
 * Seeds of `--worker --extended` that still break, a documented limit: the browser killed the
 * worker, and the one tab holding the live RT (its own login) was frozen for longer than
 * `RT_GRACE_MS`; the new run, holding no RT, waited that long for a tab to bring one, then its
 * rotation had nothing to present and the session ended `rejected` in the other tabs
 * (docs/guides/worker.md). Waiting longer would hold every tab's requests where no tab holds the
 * RT at all. Drawn once the worker marked a 2xx's headers (its extra messages moved the draws).
 * 81595 and 81867 (round 4, session 11, failing so before it) are the same limit: the RT's holder
 * froze 1.4 s (81595) and 5 s after the kill, and no login form was there to ask (`hook: none`).
 * From the sweep of 214,001–230,000 (round 4, session 16), failing so on the code before it, read
 * in part: 226530 looks the same limit (the browser killed the run; the tab of the login the run
 * held, family 3, froze 5 s later, and the session ended `rejected` while that login lived), and
 * 217576 (`no-live-rt-after-logout`) is OPEN_FINDINGS_WORKER's 119619 (two logins held apart, a
 * wall clock set back between them, the dropped one left live after the logout).
 */
export const OPEN_FINDINGS_WORKER_EXTENDED: Record<number, InvariantName> = {
  111586: 'no-unasked-logout',
  81595: 'no-unasked-logout',
  81867: 'no-unasked-logout',
  226530: 'no-unasked-logout',
  217576: 'no-live-rt-after-logout',
}

/**
 * Seeds of `--worker --extended` (`runSchedule(seed, { worker: true, extended: true })`), kept
 * passing. 163, 79, 271, 316, 393, 531, 700 (`no-unasked-logout`, bearer; issue 32's sweep of
 * seeds 1–1,500, the first of this combination, failed 9): the browser killed the worker; a tab
 * started a new run and handed it the AT, which had expired (the wall clock moved, or it lived its
 * time); the run's first rotation held no RT and ended the session in every tab within a second,
 * while the tab that had signed in held the family's live RT and was about to rejoin (it had
 * fallen back too). A run holding the session without its RT now lets a rotation wait for a tab
 * to bring it, up to `rtGraceMs` from its start (src/worker/hub.ts `#rtOrGrace`; protocol.ts
 * RT_GRACE_MS: a heartbeat, a ping's limit and two rejoin delays). 611, 626, 100188 (`converges`):
 * the two logins of REGRESSION_SEEDS_WORKER's 1367. 101361, 101427 (`converges`): its 101882 (a
 * logout remembered by the page, told to the worker's session alone). 101740 (`converges`, cookie):
 * two fallen-back tabs heard a forged far-ahead state and counted it as their coordinator's `newest`;
 * their rejoins carried it to the worker (which refused it) instead of their real state, and the
 * tabs ended apart (src/coordinator/replaceable.ts: a forged leap is no news). 105650
 * (`no-live-rt-after-logout`, bearer) was the oracle's: a login form answered into a run the browser
 * had just killed, and the user logged out in another tab 430 ms later; no tab could know of that
 * login, whose tab revokes it once it notices the loss. The oracle now takes such a login for what it
 * is and checks, at the end, that its tab revoked it (world.ts `checkUnheard`). 113041, 115636
 * (`rt-presented-twice`, a 200 whose body never came): the browser killed the worker between the
 * headers and the body; the worker's session did not mark the RT spent as a page's does, and the
 * tab that had signed in presented it again. The hub's coordinator now says its members see a
 * write at once (`marksSpent`), and the worker marks. 127439 (`no-unasked-logout`, cookie) was the
 * oracle's: a tab frozen across a login's refusal (the other tabs ended `rejected` with it) and the
 * user's next login read its queue in order on resume: the end, then the new login. The oracle
 * judged that old end against the new login; it now judges each end once, when its first tab
 * hears it (world.ts `#endsJudged`). 134868 (`no-unasked-logout`, then `stays-alive`): a thawed tab
 * holding the only live RT would not rejoin while its rotation asked the lock the new run held with
 * a login form open (src/worker/link.ts #rejoinFirst); rejoined, the run adopted its RT and never
 * rotated again, every rotation joining the one from an older generation (src/core/rotator.ts rotateFrom).
 * 1139 (`answered`, bearer; failing before round 4, session 9) is REGRESSION_SEEDS_WORKER's 2966.
 * 70050 (`rt-presented-twice`, cookie; round 4, session 10) was the model's: the app disposed its
 * one session while the run refreshed, and SharedWorkers ended the run with its last port; the next
 * session's new run presented the cookie that refresh was spending. A browser keeps a SharedWorker
 * while a page that uses it lives, ports or none: so does the model since round 4, session 11 (a run
 * ends after its last port and its last page), which first waited for 10859's fix (the truer model
 * failed about one schedule in a thousand with its shape: 147, 152 of `--worker`). 83400: REGRESSION_SEEDS_WORKER's 82802.
 * 65199 (`no-live-rt-after-logout`, bearer; round 4, session 10): a login form answered into the run
 * (a newer login, told to the page's store), then the browser killed it; a tab frozen meanwhile
 * thawed holding the older login's marked AT, and rejoining a new run started from the page's store
 * (no token) gave it that AT one above the newer login's state. The user's logout then presented the
 * older login's AT and left the newer one live. A tab's AT goes over a token-less run only for the
 * run's own login (src/worker/reconcile.ts `reconcile`). 1302 (`no-unasked-logout`, bearer; round 4,
 * session 12) broke a draft of 93118's fix that caught up with the store before asking whether a
 * login came while the form was open: the worker's own end ('rejected', the verdict the form was
 * answering) was adopted from the store then, the tab ended and revoked the form's login. The
 * check reads what the tab knows. 143759 (`no-live-rt-after-logout`, bearer; round 4, session 12,
 * failing so before it) was the oracle's: a worker form's login, answered after its tab lost the
 * worker and had signed in anew, was revoked as designed, but the revocation met a slow network and
 * the tab's own timeout gave it up before the server read it. A logout given up so is lost as a
 * dropped one is (server.ts `revocationsLost`). 96731 (`rt-presented-twice`, bearer; found by the sweep of
 * 93,001–98,000 in round 4, session 11, failing the same before it; fixed in session 12): 133991's
 * shape. The tab froze with a ping out; the worker rotated meanwhile and answered; on resume the
 * ping's limit ran out 930 ms late, before the queued answer and the new state were read (late
 * only past twice the limit then), and the tab fell back and presented the RT the run had rotated.
 * Late is now 250 ms past the limit (src/coordinator/worker.ts `LATE_BY_MS`). 180555
 * (`rt-presented-twice`, bearer; the sweep of 180,001–188,000 in round 4, session 14, failing so
 * before it): the browser killed the run and both tabs fell back; t1 (the login's tab) refreshed on
 * the page's lock, and while its next refresh was on the wire t2 rejoined a new run with the RT t1
 * was presenting; under the one Web Lock the run presented it after t1. A fallen-back bearer tab
 * holding an RT now tries the worker first with Web Locks too (src/worker/link.ts `#rejoinFirst`).
 * 210921 (`converges`, bearer; the sweep of 206,001–214,000 in round 4, session 16, failing so on the
 * code of session 14 too): t4 froze at generation 8 while the run rotated to 11, and on resume the
 * user logged out there before its queued news was read: its end, numbered from what it knew (9),
 * did not supersede the run's stored 11. The news then revived the login it had ended, and it
 * answered with the end above it (11), told to the run's session and the tabs, which all signed
 * out, but only posted: the run's store kept the revived login, tokens and all, and welcomed the
 * tab reloaded next into it, signed in alone for good. That end is now written as it is told
 * (src/core/sync.ts `adopt`; test/behaviour/revived-login-end-written.test.ts).
 */
export const REGRESSION_SEEDS_WORKER_EXTENDED = [
  163, 79, 271, 316, 393, 531, 700, 611, 626, 100188, 101361, 101427, 101740, 105650, 113041, 115636, 127439, 134868, 1139, 65199, 70050, 83400, 1302, 96731, 143759, 180555,
  210921,
]

/**
 * Seeds of `--worker --no-locks --extended` (no Web Locks: the pages' rotation lock and the
 * worker's are two), kept passing. 1226 (`rt-presented-twice`, cookie) and 1447
 * (`forged-request-ignored`) broke a first draft of 134868's rule that applied without Web Locks
 * too: a follower rejoined while the pages' elected leader refreshed, and the worker presented the
 * same cookie. Without Web Locks a lock only asked of the page still keeps a tab from rejoining
 * (src/worker/link.ts `#adopt`). 6695 (`stays-alive`, cookie, timer mode): the browser's clock was
 * set back ~15 minutes while the worker's refresh was on the wire; the grant's deadlines counted
 * from the send time read on the old clock, and the next rotation was armed 956 s ahead, long
 * after the AT died. The send time now moves back with a clock set back during the call (read on
 * the monotonic clock; src/core/refresh-call.ts `sentClock`): every mode's refresh, not only the
 * worker's. 4681, 6478, 6626 (`rt-presented-twice`, cookie): one cookie presented by a tab on the
 * page's lock and by a worker run beside it. 6478: the browser killed the worker; the tab, elected
 * the pages' leader and asking their lock, said hello to a new run, whose session rotated at once
 * (its AT due), then let the run go and refreshed with the cookie the run was rotating. 6626: a tab
 * that had just noticed the kill refreshed on the page's lock while a new run (another tab's)
 * refreshed too. A cookie tab's rotation without Web Locks now first tries the worker, and a tab
 * asking or holding the page's lock does not say hello until it lets go (src/worker/link.ts).
 * 16157 (`forged-request-ignored`) broke the first draft of that: a fallen-back tab's rotation
 * from generation 14 rejoined first, was welcomed with 15, and asked the worker to rotate 15, an RT
 * 6 s old. A rotation the worker coordinator is asked now supersedes the generation it was asked
 * from: one already newer is adopted (src/coordinator/worker.ts `#afterWorkerRotation`).
 * 20749 (`no-live-rt-after-logout`, bearer), the oracle's: a login form answered into a run the
 * browser had killed; its tab noticed and revoked the login, and that one best-effort call met a
 * 503. The end's check (world.ts `checkUnheard`) now excuses a revocation the network lost, as the
 * invariant reads ("on a fault-free network"). 24733 (`no-unasked-logout`, bearer), Rotor's: the
 * browser killed the worker; in the new run another tab rejoined first with the AT alone and the
 * tab that had signed in brought the RT of that same state, at that same generation: the hub kept
 * it, but the worker's session, which adopts only a newer state, never had it, and ended the
 * session when the AT expired (src/worker/hub.ts `#renumbered`: that state now goes one up).
 * 30199 (`no-unasked-logout`, cookie), Rotor's: a tab frozen as its user signed in wrote the login
 * from the generation it knew, below the mark (an RT refused, a login owed) the worker had made
 * meanwhile; on resume it heard the mark while the login was written, let it stand as newer, and
 * the session ended with the user's new login in the jar. An older login's mark now owes that
 * login, which goes again above it (src/core/sync.ts `publish`, login-order.ts `owes`).
 * 10859 (`no-unasked-logout`, bearer; an open finding until round 4, session 11), Rotor's: the run
 * asked t5's login form, t5 froze with it open, the hub dropped it as silent (its port closed) and
 * asked t2's; t5's form answered while frozen, and on resume t5 posted the grant on the closed port;
 * t2 was disposed, the run ended `rejected`, and when t5 noticed the loss it revoked its login: the
 * password typed for nothing. A tab that loses the worker holding a grant its form made now starts
 * the session on it where the session still owes a login (src/worker/link.ts `#formLogin`). 1634 and
 * 1962 (`no-live-rt-after-logout`, `no-unasked-logout`) broke drafts of that fix: 1634 a form that
 * answered after the loss (its signal aborted by the fallback) was started while the oracle took it
 * for revoked (world.ts now follows a form's login a session presents); 1962 the fallback's rejoin
 * reached the run, which had ended on its own, before the login was in the page's store, and the tab
 * ended: the rejoin now waits for that start(), and a bearer tab holding another login's RT wins one
 * above a run ended on its own at its count (reconcile.ts `reconcile`), as a cookie tab does. 2466 and
 * 3944 (cookie) are REGRESSION_SEEDS_WORKER_NO_LOCKS's 2316; 5905 broke a draft of the oracle: a
 * form the app's unmounted session had asked answered after the unmount, and the oracle wanted it
 * revoked (a disposed session's form is not followed). 93118 (`no-live-rt-after-logout`, bearer, one
 * tab; came with 10859's fix, an open finding until round 4, session 12), Rotor's: a worker form's
 * login answered after its tab lost the worker and was started while the page's own session had its
 * form open for the same dead RT; that form answered 14 s later and its login replaced the first,
 * left live and held by no tab. A bearer form's login is revoked where another login came while the
 * form was open (src/core/relogin.ts `endLocked`). 94893 (`no-unasked-logout`, bearer; found by the
 * sweep of 93,001–98,000 in round 4, session 11, failing so before it; fixed in session 12), Rotor's:
 * a tab that slept through the user's logout and a later login rejoined the run with that logout;
 * `reconcile` let a user's logout stand over any state, so the run went signed out for a turn, then
 * back to the login (the hub's own order), and every tab dropped the login's RT on the way. When the
 * browser next killed the worker no tab had an RT to bring, the clock was set forward, and the new
 * run ended the session. A login made after the logout (login-order.ts `outlives`) stands over it.
 * 163513 (`rt-presented-twice`, bearer; found by the sweep of 160,001–166,000 in round 4, session
 * 13, failing so before it; fixed in session 14), Rotor's: the browser killed the run and the three
 * tabs fell back; t2 signed in there (family 3) and t1, elected leader of the fallen-back pages,
 * took the login from t2's message; t2 and t3 then rejoined a new run, which took the login's RT
 * and rotated it when t3 asked; 0.4 s later t1, still fallen back and holding the pages' lock,
 * presented the same RT. Without Web Locks the run's lock and the pages' elected one are two
 * locks, and t1, holding an RT, refreshed on the page's without trying the worker (only a tab
 * holding no RT did). Without Web Locks every fallen-back tab's rotation now tries the worker
 * first (link.ts `#rejoinFirst`), as a cookie tab's did; the run's later grant of the login wins.
 * 169721 (`no-unasked-logout`, bearer; the sweep of 166,001–176,000 in session 14, failing so
 * before it), Rotor's: t2 signed in through the run; a frozen tab's rejoin numbered that login anew,
 * and the run told it without the RT (it keeps it); t2's session entered that state and counted its
 * own RT spent. The browser killed the run; t2's rejoin brought the RT to a new run and told its
 * session the state with it, which the session refused as a replay of a spent RT; its rotation then
 * held no RT, its AT had expired, and it ended while the new run held that RT live. The same grant
 * told without its RT no longer spends it (src/core/spent.ts `leave`); a mark still does. 177092
 * (`no-live-rt-after-logout`, bearer; the sweep of 176,001–186,000 in session 14, failing so before
 * it), Rotor's: t1 froze while the new run asked t2's login form (family 2); thawed, t1's user
 * logged out, but the run had given the frozen t1 up as silent: its logout went unanswered, t1 fell
 * back and called the endpoint with its own AT (an older login), and family 2 stayed live. A logout
 * the worker was lost on now goes to a new connection once more, before the rejoin tells the run the
 * end (link.ts `#logoutAgain`).
 */
export const REGRESSION_SEEDS_WORKER_NO_LOCKS_EXTENDED = [
  1226, 1447, 6695, 4681, 6478, 6626, 16157, 20749, 24733, 30199, 10859, 1634, 1962, 2466, 3944, 5905, 93118, 94893, 163513, 60785, 95502, 140235, 169721, 177092,
]

/**
 * Seeds of `--worker --no-locks`, kept passing. 2461 (`no-unasked-logout`, cookie) broke a draft of
 * 16157's fix that asked the worker to rotate from the rotation's own generation even where the
 * worker's newer state was a mark (a login owed, its form open): the hub took that request for a
 * stale one, and the session ended in a tab that thawed holding its own new login. The request
 * names the worker's generation again; only the adopt-instead check reads the rotation's own.
 * 70516 (`stays-alive`, bearer, timer mode; round 4, session 10): the wall clock was set back 9
 * minutes, then the browser killed the worker; the new run, born after the jump, could not see it,
 * adopted a state issued "in its future" and armed the rotation at that issue + 0.8 × lifetime, 598 s
 * out, the AT dead at the server after 60. A rotation point is never further than 0.8 × lifetime
 * from now (src/core/scheduler.ts). 654 (`no-live-rt-after-logout`, bearer; round 4, session 11) broke the
 * oracle with 10859's fix: a form answered into a killed run, its tab started the session on it as
 * designed, and the end-of-run check still wanted it revoked (world.ts now follows it). 2316, 3436,
 * 5624 (`no-unasked-logout`, cookie; found with the model's runs kept while a page lives, and
 * failing so before 10859's fix): 10859's shape with cookies. The form's login landed in the jar
 * and its answer on a port the hub had closed; on resume the tab rejoined the run, which had ended
 * on its own meanwhile, and ended too while the jar held that login. A cookie form's login the worker
 * is not seen to take (no newer login's state came) is now started on the page's coordinator as a
 * bearer one is, never revoked (the jar's cookie may be a later login's). 83752 (`no-unasked-logout`,
 * bearer; failing so before): the wall clock was set forward an hour; the worker's refresh spent the
 * RT and its 2xx's headers marked the state (`ending`, `rotatingSince`), and a tab whose timer ran
 * out read the mark's old times as both tokens dead and ended the session 3 ms before the grant came.
 * A refresh under way is no end: the tab asks for the rotation and waits for it (src/core/policy.ts).
 */
export const REGRESSION_SEEDS_WORKER_NO_LOCKS = [2461, 70516, 654, 2316, 3436, 5624, 83752]

/**
 * Seeds of `--worker --no-locks` that still break. 150713 (`no-unasked-logout`, bearer; found by
 * the sweep of 148,001–154,000 in round 4, session 13, failing so before it) is the documented
 * frozen-RT-holder limit (OPEN_FINDINGS_WORKER_EXTENDED) without the extended model: t4 signed in
 * (family 2, its RT held by t4 and the run alone) and froze; 4 s later the browser killed the run.
 * The new run waited `RT_GRACE_MS` (15 s) for a tab to bring an RT; t4 thawed 0.1 s after that ran
 * out (the wall clock set forward 30 minutes meanwhile), still unaware of the kill (its heartbeat
 * notices within 3 s), and the run, asked to rotate 2.4 s later, had no RT to present and ended.
 * 157602: OPEN_FINDINGS_WORKER's, the same without Web Locks. 162279 (the sweep of 162,001–170,000
 * in round 4, session 14, failing so before it): the same limit; t1 signed in (family 5) and froze,
 * the browser killed the run 63 s later, and t1 thawed 14.4 s into the new run's 15 s grace, too
 * late for its heartbeat (3 s) to notice the kill and bring the RT before the run ended.
 */
export const OPEN_FINDINGS_WORKER_NO_LOCKS: Record<number, InvariantName> = {
  150713: 'no-unasked-logout',
  157602: 'no-unasked-logout',
  162279: 'no-unasked-logout',
}

/**
 * Seeds of `--worker --no-locks --extended` that still break (`no-unasked-logout`, bearer), found
 * by its sweep of 7,501–20,000 (round 4, session 9) and failing the same before that session's
 * changes. 10660 is the documented limit of OPEN_FINDINGS_WORKER_EXTENDED: the browser killed the
 * worker and the tab holding the family's live RT (its own login) was frozen past `RT_GRACE_MS`;
 * the new run ended when its login hook failed; 22983 and 60785 (round 4, session 10) are the same
 * limit: the family's only live RT holder froze just before the kill (22983: 3 s; 60785: 174 ms, and
 * thawed 27 s later), and the new run, holding no RT, ended when the AT expired. 63843
 * (`no-live-rt-after-logout`, bearer), read: a tab signed in and froze before it reached the worker;
 * the wall clock was set back 27 minutes and another tab signed in through the worker; thawed, the
 * first tab rejoined, and of two logins each holding an RT the later by the wall clock won
 * (two-logins.ts), its own, 27 minutes "later". The loser's RT is dropped unrevoked by design (tabs
 * that fell back may still be on it), so the user's logout left it live. Revoking a loser the
 * worker alone held costs the worker script bytes it does not have (20,000 B of 20,000). 14506, read (round 4, session 10): t6 and t5 signed in at the same instant
 * (families 4 and 5, one `login.at`); the hub's tie (two-logins.ts: the later login wins, and of
 * two at one instant the one it held) kept t6's and dropped t5's RT unrevoked, by design; the
 * world's session family is the login recorded last, 5. Family 4 later died by a lost refresh
 * answer (a `hang`, then the retry's RT refused), and the oracle judged the end against family 5,
 * which t5 and the worker had received and dropped. The oracle's, as it stands: a tie's loser is
 * held by no one.
 * 89944 (round 4, session 11, failing so before it): the documented limit again, the family's
 * only live RT holder (its own login) frozen 5.5 s before the kill, no login form (`hook: none`).
 * 95502 (failing so once runs live while a page does, before this session's fix too): the same
 * limit; the holder thawed 1.5 s before the new run's grace ran out and rejoined too late.
 * 140235 and 141033 (round 4, session 12, failing so before it; the sweep of 140,001–144,000): the
 * same limit. In 140235 the holder thawed 2 s before the grace ran out and noticed the kill 1 s after
 * it; falling back, it read the run's mark (its refresh "refused": it held no RT to present) from the
 * page's store as its own state's end and dropped its live RT, so when it rejoined, 24 s before the
 * run's login form was dismissed, it had none to bring. Keeping an RT across a mark made by a run
 * that never held it is the lead. In 141033 the one tab held its form's login and froze at the kill.
 * 164322 (`no-live-rt-after-logout`; the sweep of 160,001–166,000 in round 4, session 13, failing
 * so before it), read: 63843's shape without a clock jump. t1 was frozen while it connected; t2
 * signed in through the worker (family 2); t1 resumed, fell back and its user signed in there
 * (family 3), and t2's logout revoked the worker's family 2 only: the other login's RT, dropped
 * unrevoked by design, stayed live. (163513 of the same sweep, fixed in round 4, session 14: in
 * REGRESSION_SEEDS_WORKER_NO_LOCKS_EXTENDED. Its fix, a fallen-back tab's rotation trying the
 * worker first even where the tab holds an RT, also brings the thawed holder's RT to the new run
 * in 60785, 95502 and 140235, which now pass: regression seeds there too.)
 * 186508 (`no-live-rt-after-logout`; the sweep of 186,001–196,000 in session 14, failing so before
 * it), read: 119619's two-logins shape. t4's form answered while its page was frozen; thawed (its
 * wall clock set back 25 minutes meanwhile), it fell back and started that login on the page, then
 * rejoined the run, which held another tab's form login; the later by the wall clock won, the run's,
 * and t4's login, dropped unrevoked by design, stayed live after the user's logout. Out of the list
 * since round 4, session 16: the retry of a quiet rotation that failed with no retry armed
 * (src/core/policy.ts) arms timers the schedule did not have, and the seed's later draws no longer
 * reach that shape, which stays open (119619's).
 */
export const OPEN_FINDINGS_WORKER_NO_LOCKS_EXTENDED: Record<number, InvariantName> = {
  10660: 'no-unasked-logout',
  22983: 'no-unasked-logout',
  63843: 'no-live-rt-after-logout',
  14506: 'no-unasked-logout',
  89944: 'no-unasked-logout',
  141033: 'no-unasked-logout',
  164322: 'no-live-rt-after-logout',
}

/** A port message in the trace (`SIM_PORTS=1`): its first 400 characters, every token masked. */
function shown(message: unknown): string {
  return JSON.stringify(message)
    .replace(/"(accessToken|refreshToken)":"[^"]*"/g, '"$1":"…"')
    .slice(0, 400)
}

/** Where the tabs load the worker's script from (the probe of a slow worker fetches it). */
export const WORKER_SCRIPT = 'https://app.sim/rotor-worker.js'

/** One end of a port pair: what it is told reaches `onmessage` on the far side, later, in order. */
type End = { onmessage: ((event: MessageEvent) => void) | null; open: boolean }

/** One run of the worker, from the first tab's connect to its death (its last tab gone, or killed by the browser). */
class Incarnation {
  readonly id: string
  readonly hub: Hub
  alive = true
  /** The tabs' ends connected to this run, by tab. */
  readonly ports = new Map<End, string>()
  /** The pages whose tabs connected to this run: a browser keeps the run while one of them lives, ports open or not. */
  readonly pages = new Set<string>()
  #ids = 0
  #watched = false

  constructor(id: string, name: string, scheduler: Scheduler, origin: Origin, server: ModelServer, locks: boolean) {
    this.id = id
    const run = (fn: () => void) => void (this.alive && fn())
    const platform: Platform = {
      ...defaultPlatform(),
      // The worker runs in the browser: the origin's system clock, its Web Locks.
      now: () => origin.now(),
      monotonic: () => scheduler.now,
      after: (ms, fn) => scheduler.after(ms, `timer ${id}`, () => run(fn)),
      random: () => scheduler.random.next(),
      randomId: () => `${id}.${++this.#ids}`,
      on: () => () => undefined,
      channel: undefined,
      locks: locks ? origin.locks(id, run) : undefined,
      election: undefined,
      realms: new Map(),
      storage: undefined,
      location: () => ({ href: WORKER_SCRIPT, base: WORKER_SCRIPT, origin: 'https://app.sim' }),
      browsing: true,
      // The worker's bearer RT is its own: it never enters a page, and dies with the run (server.ts `mayHold`).
      fetch: () => server.fetchFor(() => this.alive, id),
      sharedWorker: undefined,
      indexedDB: undefined,
      debug: undefined,
    }
    // Named as a browser names it, after the page's session (its Web Lock is the pages' one: sim seed
    // 102899 ran the run as 'sim', whose lock no page shared, and a fallen-back page refreshed beside it).
    this.hub = createHub(name, {}, platform)
  }

  /** `SIM_DEBUG=1`: the run's own session's decisions in the trace, as a tab's are (world.ts), once the first hello made it. */
  watchSession(scheduler: Scheduler): void {
    if (this.#watched || !process.env['SIM_DEBUG'] || !this.hub.session) return
    this.#watched = true
    this.hub.session.on('trace', entry => scheduler.note(`  dbg ${this.id} ${JSON.stringify(entry)}`))
  }
}

/**
 * The browser's SharedWorker of the origin's session name: the first `new SharedWorker` starts
 * it, later ones connect to the same run; it lives while any tab holds a port or any page that
 * connected to it lives (a browser keeps a worker for its owner documents: an app that disposed its
 * one session does not end the run, sim seed 70050), and dies after both (or when `kill()` says the
 * browser terminated it). A dead run handles nothing more: its
 * timers, fetch answers and incoming messages are dropped, its Web Locks released, and the
 * tabs' ports to it go silent (a browser tells them nothing: they find out by ping).
 */
export class SharedWorkers {
  readonly #scheduler: Scheduler
  readonly #origin: Origin
  readonly #server: ModelServer
  readonly #locks: boolean
  #current: Incarnation | undefined
  #runs = 0
  /** Every run started, by id: whether one still lives (an RT's holder, server.ts `trackHolders`). */
  readonly #all = new Map<string, Incarnation>()
  /** The run each tab was last welcomed by, and the tab's end of that port. */
  readonly #welcomed = new Map<string, { run: Incarnation; end: End }>()
  /** The page of a tab mounted where the app unmounted another (world.ts `unmount`): the first tab's. */
  readonly #pageOf = new Map<string, string>()
  /** Runs started and killed: what the schedule did. */
  started = 0
  killed = 0

  constructor(scheduler: Scheduler, origin: Origin, server: ModelServer, locks: boolean) {
    this.#scheduler = scheduler
    this.#origin = origin
    this.#server = server
    this.#locks = locks
  }

  /** The session options and platform pieces of tab `tab` (its deliveries wait while it is frozen). */
  optionsFor(tab: string, deliver: (fn: () => void) => void): Partial<SessionOptions> {
    const scriptServed: typeof fetch = async () => new Response('/* rotor-auth worker */', { status: 200 })
    return {
      worker: WORKER_SCRIPT,
      platform: { sharedWorker: (_url, name) => this.#connect(tab, deliver, name), fetch: () => scriptServed },
    }
  }

  /** Tab `next` is mounted in the page of tab `tab`, which the app unmounted: one page, whose close closes both. */
  samePage(tab: string, next: string): void {
    this.#pageOf.set(next, this.#pageOf.get(tab) ?? tab)
  }

  /** Whether run `id` (`w1`, …) still runs. */
  alive(id: string): boolean {
    return this.#all.get(id)?.alive === true
  }

  /**
   * Whether tab `tab` is still on a run the browser killed: welcomed by it, and its port to it
   * still open (a killed run says nothing; the tab finds out by ping, within seconds, and closes
   * that port as it falls back). What it sends the worker meanwhile reaches no one.
   */
  cutOff(tab: string): boolean {
    const on = this.#welcomed.get(tab)
    return on !== undefined && !on.run.alive && on.end.open
  }

  /** The browser terminates the worker (memory pressure, a crash): nothing of it runs again. */
  kill(): void {
    const run = this.#current
    if (!run) return
    this.#scheduler.note(`kill ${run.id}`)
    this.killed++
    this.#end(run)
  }

  #end(run: Incarnation): void {
    run.alive = false
    if (this.#current === run) this.#current = undefined
    this.#origin.closeTab(run.id)
  }

  #connect(tab: string, deliver: (fn: () => void) => void, name: string): SharedWorkerLike {
    const run = (this.#current ??= this.#start(name))
    const tabEnd: End & { postMessage(data: unknown): void; start(): void; close(): void } = {
      onmessage: null,
      open: true,
      postMessage: data => this.#send(`${tab}>${run.id}`, data, hubEnd, fn => fn(), run, run.id),
      start: () => undefined,
      close: () => this.#close(run, tabEnd),
    }
    const hubEnd: End & { postMessage(data: unknown): void; close(): void } = {
      onmessage: null,
      open: true,
      postMessage: data => this.#send(`${run.id}>${tab}`, data, tabEnd, deliver, run, tab),
      close: () => void (hubEnd.open = false),
    }
    const page = this.#pageOf.get(tab) ?? tab
    run.ports.set(tabEnd, tab)
    run.pages.add(page)
    this.#origin.onClose(tab, () => (run.pages.delete(page), this.#close(run, tabEnd)))
    this.#scheduler.note(`connect ${tab} ${run.id}`)
    run.hub.connect(hubEnd)
    return { port: tabEnd as unknown as MessagePort, addEventListener: () => undefined }
  }

  #start(name: string): Incarnation {
    this.started++
    const run = new Incarnation(`w${++this.#runs}`, name, this.#scheduler, this.#origin, this.#server, this.#locks)
    this.#all.set(run.id, run)
    this.#scheduler.note(`start ${run.id}`)
    return run
  }

  /** The tab's end closed (disposed, or the page went): the last one, with no page left of those that connected, ends the worker. */
  #close(run: Incarnation, end: End): void {
    end.open = false
    run.ports.delete(end)
    if (run.ports.size > 0 || run.pages.size > 0 || !run.alive) return
    this.#scheduler.note(`end ${run.id}`)
    this.#end(run)
  }

  readonly #lastDelivery = new Map<string, number>()

  /** A structured clone of `data`, delivered 0–4 ms later in order per direction, while the worker runs and the far end (`receiver`) is open. */
  #send(pair: string, data: unknown, to: End, deliver: (fn: () => void) => void, run: Incarnation, receiver: string): void {
    if (!run.alive) return
    const copy: unknown = structuredClone(data)
    const at = Math.max(this.#lastDelivery.get(pair) ?? 0, this.#scheduler.now + this.#scheduler.random.int(0, 4))
    this.#lastDelivery.set(pair, at)
    this.#scheduler.after(at - this.#scheduler.now, `port ${pair}`, () => {
      if (!run.alive) return
      deliver(() => {
        if (!to.open) return
        if ((copy as { w?: unknown }).w === 'welcome') this.#welcomed.set(receiver, { run, end: to })
        this.#server.heard(receiver, copy)
        if (process.env['SIM_PORTS']) this.#scheduler.note(`  msg ${pair} ${shown(copy)}`)
        to.onmessage?.({ data: copy } as MessageEvent)
        if (receiver === run.id) run.watchSession(this.#scheduler)
      })
    })
  }
}
