/** The decision kinds whose trace call is not in the core yet: the trace tests expect them missing. The lead deletes a kind from here as its decision point is wired (issue 29). */
import type { TraceKind } from '../../src/trace/kinds.js'

export const NOT_WIRED = new Set<TraceKind>([])

/**
 * Whether the session hands every `trace-request` and `trace` message it hears to
 * `heard(message, coordinator, recorder)` of src/trace/peers.ts (one line in the dispatch of
 * src/core/sync.ts; a coordinator may hold one listener only, so peers.ts never subscribes).
 */
export const PEERS_HOOKED = true
