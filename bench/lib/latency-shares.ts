/** Splits a held call's wait into its shares (lock wait, roll call, refresh, release, Rotor) from the rotating tab's recorded steps. */
import type { LatencyStats } from './latency-page.js'
import { spread, type Spread } from './latency-figures.js'
import { toMarkdown, type Table } from '../table.js'

/** Where a held call happened on the one clock: called, entered the generation that released it, handed to fetch. */
export type HeldAt = { called: number; entered: number; handed: number; generation: number }

/**
 * A held call's wait, called → handed to fetch, cut at the rotating tab's steps: before its lock
 * was asked, waiting for the lock, the roll call (granted → RT presented), the refresh in three
 * (→ its fetch called, → its answer in the page, → read, the new state posted and entered there),
 * the release (→ this tab entered the generation) and Rotor's (→ handed). Each share
 * counts from the call on: a step before the call weighs nothing. They add up to the wait.
 */
export type Shares = { before: number; lock: number; roll: number; sending: number; trip: number; reading: number; release: number; rotor: number }
export const SHARE_NAMES: Record<keyof Shares, string> = {
  before: 'before the lock was asked',
  lock: 'lock wait',
  roll: 'lock granted → RT presented (catch-up, roll call)',
  sending: 'RT presented → refresh fetch called',
  trip: '→ its answer in the page',
  reading: '→ read and published (entered there)',
  release: 'release (→ this tab has the tokens)',
  rotor: 'Rotor (→ fetch called)',
}

/**
 * The rotating tab's step times for the rotation that entered `generation`: lock asked, granted,
 * RT presented, refresh fetch called, its answer in the page, the new generation entered (its
 * state posted just before); undefined where no tab recorded it (the worker refreshes).
 */
function stepsOf(tabs: ReadonlyArray<{ stats: LatencyStats }>, generation: number): number[] | undefined {
  for (const { stats } of tabs) {
    const entered = stats.rotations.find(r => r.origin === 'local' && r.generation === generation)
    if (!entered) continue
    const steps = stats.steps.filter(s => s.at <= entered.at)
    const last = (kind: string, before: number) => {
      for (let i = before - 1; i >= 0; i--) if (steps[i]!.kind === kind) return i
      return -1
    }
    const started = last('rotation-started', steps.length)
    const granted = last('lock-granted', started)
    const asked = last('lock-asked', granted)
    if (asked < 0) return undefined
    const from = steps[started]!.at
    const call = stats.refreshes.find(r => r.called >= from && r.resolved > 0 && r.resolved <= entered.at)
    return [steps[asked]!.at, steps[granted]!.at, from, call?.called ?? from, call?.resolved ?? entered.at, entered.at]
  }
  return undefined
}

/** The shares of each held call whose rotation was recorded. */
export function sharesOf(held: ReadonlyArray<{ at: HeldAt }>, tabs: ReadonlyArray<{ stats: LatencyStats }>): Shares[] {
  const all: Shares[] = []
  for (const { at } of held) {
    const steps = stepsOf(tabs, at.generation)
    if (!steps) continue
    let t = at.called
    const [before, lock, roll, sending, trip, reading, release, rotor] = [...steps, at.entered, at.handed].map(b => {
      const share = Math.max(0, b - t)
      t = Math.max(t, b)
      return share
    }) as [number, number, number, number, number, number, number, number]
    all.push({ before, lock, roll, sending, trip, reading, release, rotor })
  }
  return all
}

/** A joining tab's first call, script start → on the wire, in its steps (ms); `rotated`: it had to rotate first (its adopted AT was due). */
export type JoinSteps = { created: number; answer: number; release: number; browser: number; rotated: boolean }

/** The steps of a join whose first call reached the wire (`times`: script start → wire, → fetch called). */
export function joinSteps(stats: LatencyStats, times: { wire: number; rotor: number }): JoinSteps {
  const created = stats.createdAt - stats.scriptStart
  const active = stats.activeAt > 0 ? stats.activeAt - stats.scriptStart : times.rotor
  return {
    created,
    answer: Math.max(0, active - created),
    release: times.rotor - Math.max(active, created),
    browser: times.wire - times.rotor,
    rotated: stats.steps.some(s => s.kind === 'rotation-started'),
  }
}

const ms = (s: Spread) => (s.n ? `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)}` : '—')

/** The two tables of shares for RESULTS.md: held calls' waits, and joins (markdown). */
export function sharesTables(results: ReadonlyArray<[name: string, shares: Shares[], joins: JoinSteps[], idleJoins?: JoinSteps[]]>): string[] {
  const keys = Object.keys(SHARE_NAMES) as Array<keyof Shares>
  const worst = (shares: Shares[]) => {
    const top = shares.reduce<Shares | undefined>((w, s) => (w && sum(w) >= sum(s) ? w : s), undefined)
    return top ? keys.map(k => `${top[k].toFixed(0)}`).join(' + ') + ` = ${sum(top).toFixed(0)}` : '—'
  }
  const held: Table = {
    columns: ['configuration', 'held calls', ...keys.map(k => SHARE_NAMES[k]), 'longest wait: its shares in this order'],
    rows: results.map(([name, shares]) => [name, shares.length, ...keys.map(k => ms(spread(shares.map(s => s[k])))), worst(shares)]),
  }
  // Each configuration's joins under traffic, then (when measured) the same with the other tabs idle.
  const joined = results.flatMap(([name, , joins, idle]) => [[name, joins] as const, ...(idle?.length ? [[`${name}, tabs idle`, idle] as const] : [])])
  const join: Table = {
    columns: ['configuration', 'joins', 'createSession returned', "→ a peer's answer adopted", '→ fetch called', '→ on the wire', 'joins that rotated first'],
    rows: joined
      .filter(([, joins]) => joins.length)
      .map(([name, joins]) => [
        name,
        joins.length,
        ...(['created', 'answer', 'release', 'browser'] as const).map(k => ms(spread(joins.map(j => j[k])))),
        joins.filter(j => j.rotated).length,
      ]),
  }
  return [toMarkdown(held), ...(join.rows.length ? ['', toMarkdown(join)] : [])]
}

const sum = (s: Shares) => Object.values(s).reduce((a, b) => a + b, 0)
