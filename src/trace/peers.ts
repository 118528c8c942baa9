/** `session.trace({ tabs: true })` across members: asks the session's other tabs (or processes) for their entries over the coordinator, and answers their asks. */
import type { Coordinator, Message } from '../coordinator/types.js'
import type { Platform } from '../platform/types.js'
import { TRACE_KIND_NAMES } from './kinds.js'
import type { TraceEntry, TraceExport, TraceRecorder } from './recorder.js'

/** A peer's entry: at most this many fields, each a short primitive (no entry of ours carries more). */
const MAX_FIELDS = 16
const MAX_TEXT = 256
/** Answers taken per ask: a forged flood of answers cannot grow a trace past MAX_PEERS × traceSize. */
const MAX_PEERS = 32

const isShortPrimitive = (v: unknown) =>
  v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length <= MAX_TEXT)

/**
 * A peer's entry as we keep it, or undefined: anything a peer sends is untrusted (any page of
 * the origin can post on the channel), so only entries of the right shape get in, copied
 * field by field (no prototype games), their URLs cut at the query like ours.
 */
export function checkEntry(value: unknown): TraceEntry | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const e = value as Record<string, unknown>
  const keys = Object.keys(e)
  if (keys.length > MAX_FIELDS || typeof e['at'] !== 'number' || typeof e['tab'] !== 'string' || !Number.isSafeInteger(e['seq'])) return undefined
  if (typeof e['kind'] !== 'string' || !(TRACE_KIND_NAMES as readonly string[]).includes(e['kind'])) return undefined
  const entry: Record<string, unknown> = {}
  for (const key of keys) {
    // A field left undefined (a failed refresh without a status) is no field: JSON drops it too.
    if (e[key] === undefined) continue
    if (key === '__proto__' || key.length > 32 || !isShortPrimitive(e[key])) return undefined
    entry[key] = key === 'url' ? String(e[key]).replace(/[?#][^]*/, '') : e[key]
  }
  return entry as TraceEntry
}

/** One document of this tab's trace and the other tabs' entries, ordered by time (a tab's own entries by `seq` within a millisecond). */
export function merge(own: TraceExport, others: Map<string, TraceEntry[]>): TraceExport {
  const entries = [...own.entries, ...[...others.values()].flat()].sort((a, b) => a.at - b.at || (a.tab === b.tab ? a.seq - b.seq : 0))
  return { ...own, tabs: [...own.tabs, ...others.keys()], entries }
}

/** Each recorder's asks under way: ask id → what each other tab answered so far. */
const asks = new WeakMap<TraceRecorder, Map<string, Map<string, TraceEntry[]>>>()

/**
 * Every `trace-request` and `trace` message the session hears goes here (the session's one
 * subscription to its coordinator dispatches them: a coordinator may hold a single listener).
 * A request is answered with what this member holds; an answer to one of this member's asks
 * counts once per tab, at most `traceSize` of its newest entries, each checked and of the tab
 * that answered (never this one); anything else is dropped.
 */
export function heard(message: Message, coordinator: Pick<Coordinator, 'post'>, recorder: TraceRecorder): void {
  answer(message, coordinator, recorder)
  if (message.type !== 'trace') return
  const answers = asks.get(recorder)?.get(message.id)
  const { tab, entries } = message
  if (!answers || typeof tab !== 'string' || tab === recorder.tab || answers.has(tab) || answers.size >= MAX_PEERS) return
  const size = recorder.options.size
  answers.set(
    tab,
    (size ? entries.slice(-size) : []).flatMap(e => checkEntry(e) ?? []).filter(e => e.tab === tab),
  )
}

/** A `trace-request` answered with what this member holds: all a member that never asks (the rotation worker's session) does with trace messages. */
export function answer(message: Message, coordinator: Pick<Coordinator, 'post'>, recorder: TraceRecorder): void {
  if (message.type === 'trace-request') coordinator.post({ type: 'trace', id: message.id, tab: recorder.tab, entries: recorder.entries() })
}

/** Asks every other member for its trace and merges what `heard` collects within `timeout` ms (500); members that do not answer in time are left out. */
export function ask(
  coordinator: Pick<Coordinator, 'post' | 'hasPeers'>,
  recorder: TraceRecorder,
  { timeout = 500 }: { timeout?: number },
  platform: Pick<Platform, 'after' | 'randomId'>,
): Promise<TraceExport> {
  if (!coordinator.hasPeers()) return Promise.resolve(recorder.export())
  const id = platform.randomId()
  const mine = asks.get(recorder) ?? new Map<string, Map<string, TraceEntry[]>>()
  asks.set(recorder, mine)
  const answers = new Map<string, TraceEntry[]>()
  mine.set(id, answers)
  coordinator.post({ type: 'trace-request', id })
  return new Promise(resolve =>
    platform.after(timeout, () => {
      mine.delete(id)
      resolve(merge(recorder.export(), answers))
    }),
  )
}
