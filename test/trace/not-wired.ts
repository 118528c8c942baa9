/** The decision kinds whose trace call is not in the core yet: the trace tests expect them missing. The lead deletes a kind from here as its decision point is wired (issue 29). */
import type { TraceKind } from '../../src/trace/kinds.js'

export const NOT_WIRED = new Set<TraceKind>([
  'lock-asked', 'lock-granted', 'lock-released', 'rotation-started', 'rotation-answered', 'rotation-adopted', 'rotation-waited',
  'clock-probe', 'request-parked', 'request-released', 'request-replayed', 'budget-reached', 'lease-lost', 'worker-fallback',
  'election-won', 'election-lost', 'idle-armed', 'ending-armed', 'reauthenticate-called', 'reauthenticate-handover', 'logout',
])

/**
 * Whether the session hands every `trace-request` and `trace` message it hears to
 * `heard(message, coordinator, recorder)` of src/trace/peers.ts (one line in the dispatch of
 * src/core/sync.ts; a coordinator may hold one listener only, so peers.ts never subscribes).
 */
export const PEERS_HOOKED = false
