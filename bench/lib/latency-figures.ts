/** The latency bench's arithmetic: from what the tabs recorded and what the server logged, the latencies of held calls, joins and the 401s. */
import type { AuthLogEntry } from '../../src/testing/index.js'
import type { LatencyStats, Timing } from './latency-page.js'
import type { HeldAt, JoinSteps, Shares } from './latency-shares.js'

/** The value below which `q` of the sorted values fall (nearest rank); NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

export type Spread = { p50: number; p99: number; n: number }
export const spread = (values: readonly number[]): Spread => ({ p50: quantile(values, 0.5), p99: quantile(values, 0.99), n: values.length })

/** One call a rotation held, in a tab that did not refresh: each step on the one clock, ms. */
export type HeldCall = {
  /** Refresh answer left the server → the call reached the server (what a user waits). */
  total: number
  /** Refresh answer left the server → the tab entered the new generation (network and cross-tab delivery). */
  delivery: number
  /** The tab had the new tokens → Rotor called the browser's fetch (Rotor's share). */
  rotor: number
  /** Fetch called → on the wire (the loader's start on a busy main thread, then the connection queue). */
  browser: number
  /**
   * Its wait (called → handed) beyond the refresh's own round trip: the part of that refresh's
   * round trip (its Resource Timing in the tab that made it) after this call was made. Where no
   * tab saw the refresh (the worker makes it), one API round trip (the median) stands in.
   */
  extra: number
  /** Where it happened, for its shares (bench/lib/latency-shares.ts): called, entered the generation, handed to fetch. */
  at: HeldAt
}

export type Figures = {
  held: HeldCall[]
  /** The held calls' waits cut at the rotating tab's steps (bench/lib/latency-shares.ts). */
  shares: Shares[]
  /** Non-held API calls' round trip in the browser (startTime → responseEnd), the stand-in for the refresh's own. */
  roundTrip: Spread
  /** Joining tabs: script start → first request on the wire, and its Rotor share (script start → handed to fetch). */
  join: number[]
  joinRotor: number[]
  joinSteps: JoinSteps[]
  /** The same joins with the other tabs idle but one (which keeps the AT fresh): script start → on the wire, and their steps. */
  idleJoin: number[]
  idleJoinSteps: JoinSteps[]
  /** Joins (busy and idle) whose first call was not on the wire within 5 s: each misses the join target. */
  joinsLost: number
  /** 401s the server answered to API calls (each replayed once by Rotor). */
  api401: number
  /** Calls whose caller did not get a 200. */
  failed: number
  refreshes: number
  reused: number
}

const timingOf = (timings: Timing[]) => new Map(timings.filter(t => t.name.startsWith('/api/')).map(t => [t.name, t]))

/**
 * Held calls of every tab: called before a rotation this tab did not do itself, handed to fetch
 * after it (more than 1 ms after the call: a call that went at once is no held call).
 */
export function heldCalls(tabs: Array<{ label: string; stats: LatencyStats }>, log: readonly AuthLogEntry[], roundTrip: number): HeldCall[] {
  const arrivals = new Map(log.filter(e => e.route === 'api').map(e => [e.path, e.at]))
  const answers = log.filter(e => e.route === 'refresh' && e.status >= 200 && e.status < 300).map(e => e.at)
  const refreshes = tabs.flatMap(({ stats }) => stats.timings.filter(t => t.name.endsWith('/refresh'))).sort((a, b) => a.responseEnd - b.responseEnd)
  /** The round trip of the refresh whose answer released the call (the last to end before it was entered), from `called` on. */
  const refreshAfter = (called: number, entered: number) => {
    const refresh = refreshes.filter(t => t.responseEnd <= entered).at(-1)
    return refresh && refresh.responseEnd >= called ? refresh.responseEnd - Math.max(refresh.startTime, called) : refresh ? 0 : roundTrip
  }
  const held: HeldCall[] = []
  for (const { label, stats } of tabs) {
    const timings = timingOf(stats.timings)
    for (const call of stats.calls) {
      const path = `/api/ping/${label}/${call.seq}`
      const timing = timings.get(path)
      const arrived = arrivals.get(path)
      if (!timing || arrived === undefined || timing.startTime - call.calledAt <= 1) continue
      const handed = stats.handed[path] ?? timing.startTime
      const rotation = stats.rotations.find(r => r.at > call.calledAt && r.at <= handed)
      if (!rotation || rotation.origin === 'local') continue
      const answered = answers.filter(at => at <= rotation.at).at(-1)
      if (answered === undefined || arrived < answered) continue
      held.push({
        total: arrived - answered,
        delivery: rotation.at - answered,
        rotor: handed - rotation.at,
        browser: timing.requestStart > 0 ? timing.requestStart - handed : Number.NaN,
        extra: handed - call.calledAt - refreshAfter(call.calledAt, rotation.at),
        at: { called: call.calledAt, entered: rotation.at, handed, generation: rotation.generation },
      })
    }
  }
  return held
}

/** API round trips of calls that went at once (no rotation in between), ms. */
export function roundTrips(tabs: Array<{ stats: LatencyStats }>): number[] {
  const trips: number[] = []
  for (const { stats } of tabs) {
    const byName = timingOf(stats.timings)
    for (const timing of byName.values()) {
      const call = stats.calls.find(c => timing.name.endsWith(`/${c.seq}`))
      if (call && timing.startTime - call.calledAt <= 1) trips.push(timing.responseEnd - timing.startTime)
    }
  }
  return trips
}

/** A joining tab: its first call from script start to the wire, and to the moment Rotor called fetch with it. */
export function joinTimes(stats: LatencyStats, label: string): { wire: number; rotor: number } | undefined {
  const path = `/api/ping/${label}/0`
  const timing = timingOf(stats.timings).get(path)
  if (!timing || timing.requestStart <= 0) return undefined
  return { wire: timing.requestStart - stats.scriptStart, rotor: (stats.handed[path] ?? timing.startTime) - stats.scriptStart }
}
