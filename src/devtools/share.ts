/** What the devtools panels of one session's tabs tell each other on a channel of their own: each tab's lane, checked as it arrives. */
import type { ChannelLike, Platform } from '../platform/types.js'
import type { LaneEntry } from './timeline.js'

/** At most this many entries per message, each a flat record of short values: a forged message draws nothing else. */
const MAX_ENTRIES = 500
const MAX_TEXT = 256

const short = (v: unknown) => v === null || ['boolean', 'number'].includes(typeof v) || (typeof v === 'string' && v.length <= MAX_TEXT)

/** A lane entry from another panel, copied field by field, or undefined when it is not one. */
export function laneEntry(value: unknown): LaneEntry | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const e = value as Record<string, unknown>
  if (!Number.isFinite(e['at']) || typeof e['tab'] !== 'string' || !Number.isSafeInteger(e['seq']) || typeof e['kind'] !== 'string') return undefined
  const keys = Object.keys(e)
  if (keys.length > 16 || !keys.every(k => k !== '__proto__' && short(e[k]))) return undefined
  return Object.fromEntries(keys.map(k => [k, e[k]])) as LaneEntry
}

type Wire = { rotorDevtools: 1; tab: string; hello?: true; entries: unknown[] }

/**
 * Joins the panels' channel `${session}:devtools`: `tell(entries)` sends this tab's news,
 * `heard` receives another tab's (checked: only entries of the tab that sent them); a panel that joins says hello and every other
 * answers with its lane, so a panel opened late draws the tabs that were there before it.
 */
export function sharePanels(platform: Pick<Platform, 'channel'>, session: string, tab: string, own: () => LaneEntry[], heard: (tab: string, entries: LaneEntry[]) => void) {
  const channel: ChannelLike | undefined = platform.channel?.(`${session}:devtools`)
  const post = (wire: Wire) => {
    try {
      channel?.postMessage(wire)
    } catch {
      // A closing channel: nothing left to tell.
    }
  }
  if (channel) {
    channel.onmessage = event => {
      const wire = event.data as Partial<Wire> | null
      if (wire?.rotorDevtools !== 1 || typeof wire.tab !== 'string' || wire.tab.length > 64 || !Array.isArray(wire.entries)) return
      heard(
        wire.tab,
        wire.entries
          .slice(-MAX_ENTRIES)
          .flatMap(e => laneEntry(e) ?? [])
          .filter(e => e.tab === wire.tab),
      )
      if (wire.hello) post({ rotorDevtools: 1, tab, entries: own().slice(-MAX_ENTRIES) })
    }
    post({ rotorDevtools: 1, tab, hello: true, entries: own() })
  }
  return {
    tell: (entries: LaneEntry[]) => post({ rotorDevtools: 1, tab, entries }),
    close: () => channel?.close(),
  }
}
