/** Which of two logins held apart (a tab and the rotation worker, or two tabs writing to it at once) is the session: the one started last. */
import type { Snapshot } from '../coordinator/types.js'

/**
 * Bearer: the rejoining tab and the worker each hold an RT, each of its own login (a tab that fell
 * back signed in on the page while another signed in through the worker: sim seed 1367) or of one
 * login, each with its own rotation of it. Apart they never met. The later login wins, as the last
 * start() does in one coordinator; of one login, the later grant (the other side's RT is the spent
 * one). The winner's state goes one generation above both: the tab adopts it, and the worker either
 * takes it with the tab's RT or, where its own won, numbers its state so (hub.ts #renumbered). The
 * losing RT is dropped, not revoked: other tabs that fell back may still be on that login, and
 * they settle the same way when they rejoin. Undefined (stay apart, try later) while either side is
 * signed out or ending; without both logins' marks (an earlier version's state), the worker wins.
 * The hub settles two tabs' logins written at one generation the same way (hub.ts `#tie`).
 */
export function twoHolders(mine: Snapshot, theirs: Snapshot): Snapshot | undefined {
  if (mine.status !== 'active' || theirs.status !== 'active' || mine.ending || theirs.ending) return undefined
  const [a, b] = [mine.login, theirs.login]
  const minesLater = a && b && (a.id === b.id ? mine.issuedAt! > theirs.issuedAt! : a.at > b.at)
  return { ...(minesLater ? mine : theirs), generation: Math.max(mine.generation, theirs.generation) + 1 }
}
