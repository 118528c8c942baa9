/** The decisions a session traces: every kind, with the fields its entries carry (never a token, cookie or body). */

/** Every kind's name: what a peer's entry is checked against (trace/peers.ts), without the descriptions below. */
export const TRACE_KIND_NAMES = [
  'lock-asked',
  'lock-granted',
  'lock-released',
  'rotation-started',
  'rotation-answered',
  'rotation-adopted',
  'rotation-waited',
  'clock-probe',
  'request-parked',
  'request-released',
  'request-replayed',
  'budget-reached',
  'lease-lost',
  'worker-fallback',
  'election-won',
  'election-lost',
  'idle-armed',
  'ending-armed',
  'reauthenticate-called',
  'reauthenticate-handover',
  'logout',
] as const

export type TraceKind = (typeof TRACE_KIND_NAMES)[number]

/**
 * Each kind, with what it means: for docs and tests, never bundled with the session (a kind
 * missing here, or not in TRACE_KIND_NAMES, does not compile). The trace test
 * (test/trace/kinds.test.ts) causes every one, for both transports; docs/guides/debugging.md
 * shows how to read them.
 */
export const TRACE_KINDS: Readonly<Record<TraceKind, string>> = {
  'lock-asked': 'asked the rotation lock (`refresh`: to present the RT)',
  'lock-granted': 'holds the rotation lock (`waitedMs`)',
  'lock-released': 'released the rotation lock',
  'rotation-started': 'sent a refresh for `generation` (`attempt`)',
  'rotation-answered':
    "the refresh answered: `ok`, the new `generation` or the `status`/`error` name (`superseded`: another tab's login came meanwhile, this pair was revoked)",
  'rotation-adopted': "took another tab's `generation` (from `origin`: store or message) instead of refreshing",
  'rotation-waited': "waited for another tab's announced rotation of `generation` (`outcome`)",
  'clock-probe': 'the wall clock jumped (`jumpMs`): asked the server instead of trusting deadlines',
  'request-parked': 'a managed request waits (`method`, `url` without query, `why`); past the first 20 parked in one go, one more entry counts the rest (`count`)',
  'request-released': 'a waiting request goes (`method`, `url`, `waitedMs`); past the first 20 released in one go, one more entry counts the rest (`count`)',
  'request-replayed': "a request answered 401 is sent again with the next generation's AT",
  'budget-reached': 'the refresh budget is spent (`limit`): the next refresh waits `deferMs`',
  'lease-lost': "the lock's lease ran out before the RT went out: no refresh",
  'worker-fallback': 'the rotation worker is not used (`reason`)',
  'election-won': 'this tab leads (no Web Locks: elected by messages)',
  'election-lost': 'another tab leads (`leader`)',
  'idle-armed': 'the idle timer runs out at `logoutAt` (warning at `warnAt`)',
  'ending-armed': 'the session-ending warning is due at `warnAt`, the end at `endsAt`',
  'reauthenticate-called': 'called `reauthenticate` (`reason`)',
  'reauthenticate-handover': 'this tab was disposed during `reauthenticate`: another tab takes it over',
  logout: 'the session ended (`reason`, `origin`)',
}
