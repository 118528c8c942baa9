/** The state a rejoining tab and the rotation worker settle on after each went on without the other, and the tokens a tab keeps of a state told without them. */
import type { Snapshot } from '../coordinator/types.js'
import type { ClientKit } from './client-kit.js'

/**
 * The state a rejoining tab and the worker settle on, after each went on without the other.
 * The newer one, as everywhere; but the two counted generations apart, so a tie says nothing
 * of which came first. One case is decided by what the server must hold: with cookies (one
 * jar), a worker whose session ended on its own (its RT refused or expired) and a tab that
 * signed in meanwhile: the jar holds the tab's login, which wins one generation above.
 */
export function reconcile(
  mine: Snapshot | undefined,
  theirs: Snapshot | undefined,
  transport: 'cookie' | 'bearer',
  { supersedes, outlives }: Pick<ClientKit, 'supersedes' | 'outlives'>,
): Snapshot | undefined {
  if (!mine || !theirs) return mine ?? theirs
  // A user's logout on either side stands: the other side's state, however far it counted, may
  // be the very session that logout ended. Where it counted further, the logout goes one above
  // it, so that each side takes the logout as news. A login made after it (another login's, dated
  // later: login-order.ts `outlives`) stands over it the same way: a tab that slept through the
  // logout and a new login rejoined with that logout, the run went signed out for a turn, and every
  // tab dropped the new login's RT with it (sim `--worker --no-locks --extended` seed 94893).
  const above = (state: Snapshot, other: Snapshot) => (supersedes(state, other) ? state : { ...state, generation: other.generation + 1 })
  if (loggedOut(theirs) && mine.status === 'active') return outlives(mine, theirs) ? above(mine, theirs) : above(theirs, mine)
  if (loggedOut(mine) && theirs.status === 'active') return outlives(theirs, mine) ? above(theirs, mine) : above(mine, theirs)
  if (supersedes(mine, theirs)) return mine
  // Bearer: a worker that holds no RT (this tab's was checked) and a tab that does: its RT wins,
  // one generation above. So does the AT of a tab that holds no RT either (the killed worker
  // took it along) over a worker that holds no token at all (started from a page's memory,
  // which keeps none): the tabs share that AT until it expires, then re-authenticate (seed 189).
  // That AT goes even with its RT refused (`ending`): a run that holds the dying state without
  // it cannot use it, its session stays signed out and ignores the tabs' requests, which wait for
  // ever (sim seed 109805); with it, the run takes over the re-authentication, as a tab would.
  // Only an AT of the run's own login: a newer login's state (a form answered into the killed run,
  // told to the page's store) must not give way to an older login's AT, or the user's logout then
  // presents that AT and leaves the newer login live (sim `--worker --extended` seed 65199).
  const holdsMore =
    (mine.refreshToken !== undefined && !mine.ending) || (mine.accessToken !== undefined && theirs.accessToken === undefined && mine.login?.id === theirs.login?.id)
  if (transport === 'bearer' && holdsMore && theirs.status === 'active' && theirs.refreshToken === undefined) {
    return { ...mine, generation: theirs.generation + 1 }
  }
  // So with a bearer tab holding the RT of another login (its form's, which the run never took: link.ts `#formLogin`; sim seed 1962).
  const signedIn = transport === 'cookie' || (mine.refreshToken !== undefined && mine.login?.id !== theirs.login?.id)
  if (signedIn && mine.status === 'active' && !mine.ending && endedOnItsOwn(theirs) && theirs.generation === mine.generation) {
    return { ...mine, generation: theirs.generation + 1 }
  }
  return theirs
}

/**
 * What the tab's coordinator keeps as its newest state: the state heard, and where it is the same
 * grant numbered anew (a rejoin's, told without tokens by the page's store, which keeps none) the
 * tokens this tab holds of it. Without them a tab holding its login's RT rejoined a new worker run
 * as one without, and the run, holding no RT either, ended the session (sim seed 111409).
 */
export function keepTokens(heard: Snapshot, held: Snapshot | undefined): Snapshot {
  const next = { ...heard }
  if (held?.status === 'active' && heard.status === 'active' && sameGrant(heard, held)) {
    if (next.accessToken === undefined && held.accessToken !== undefined) next.accessToken = held.accessToken
    if (next.refreshToken === undefined && held.refreshToken !== undefined) next.refreshToken = held.refreshToken
  }
  return next
}

/** One grant told twice: its times and login, and its AT where both carry one. */
function sameGrant(a: Snapshot, b: Snapshot): boolean {
  const tokens = a.accessToken === undefined || b.accessToken === undefined || a.accessToken === b.accessToken
  return tokens && a.issuedAt === b.issuedAt && a.accessExpiresAt === b.accessExpiresAt && a.login?.id === b.login?.id
}

/** A session the user ended (`logout()`), not one that ended on its own. */
function loggedOut(snapshot: Snapshot): boolean {
  return snapshot.status === 'signed-out' && snapshot.reason === 'user'
}

/** A session that ended on its own (its RT refused, or both tokens expired): it still owes a login. */
export function endedOnItsOwn(snapshot: Snapshot): boolean {
  return snapshot.status === 'signed-out' && (snapshot.reason === 'rejected' || snapshot.reason === 'expired')
}
