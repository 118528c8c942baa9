/** The devtools panel's timeline: one lane per tab, its latest decisions and events newest first, and what waits there now. */

/** What a lane draws: a trace entry, or one of the session's events (`rotate`, `logout`…) in the same shape. */
export type LaneEntry = { at: number; tab: string; seq: number; kind: string; [field: string]: unknown }

/** Fields shown beside an entry's kind, in this order, when present. */
// prettier-ignore
const SHOWN = ['generation', 'origin', 'ok', 'status', 'error', 'code', 'method', 'url', 'why', 'waitedMs', 'count', 'reason', 'leader', 'attempt', 'limit', 'offset', 'willRetry']
/** Lines a lane shows (it keeps more: `limit`). */
const VISIBLE = 12

type Lane = { element: HTMLElement; list: HTMLOListElement; waiting: HTMLElement; entries: LaneEntry[]; seen: Set<string>; parked: number }

const clockTime = (at: number) => new Date(at).toISOString().slice(11, 23)
/** How an entry moves the count of requests waiting in its tab: one, or the `count` of a burst's rest. */
function parkedBy({ kind, count }: LaneEntry): number {
  const by = typeof count === 'number' ? count : 1
  return kind === 'request-parked' ? by : kind === 'request-released' ? -by : 0
}
const keyOf = (entry: LaneEntry) => `${entry.kind.startsWith('event:') ? 'e' : 't'}${entry.seq}`

function line(entry: LaneEntry): string {
  const fields = SHOWN.filter(k => entry[k] !== undefined && entry[k] !== null).map(k => `${k}=${String(entry[k])}`)
  return [clockTime(entry.at), entry.kind.replace(/^event:/, ''), ...fields].join(' ')
}

export class Timeline {
  readonly element: HTMLElement
  readonly #doc: Document
  readonly #limit: number
  readonly #self: string
  readonly #lanes = new Map<string, Lane>()

  constructor(doc: Document, self: string, limit: number) {
    this.#doc = doc
    this.#self = self
    this.#limit = limit
    this.element = doc.createElement('div')
    this.element.className = 'rotor-devtools-lanes'
    this.#lane(self)
  }

  /** The tabs drawn, this one first. */
  get tabs(): string[] {
    return [...this.#lanes.keys()]
  }

  /** Adds entries (from this tab or another's panel: `tab`, whose lane shows even without any), each once; a lane keeps its newest `limit`. */
  add(entries: LaneEntry[], tab?: string): void {
    if (tab !== undefined) this.#lane(tab)
    for (const entry of entries) {
      const lane = this.#lane(entry.tab)
      const key = keyOf(entry)
      if (lane.seen.has(key)) continue
      lane.seen.add(key)
      lane.entries.push(entry)
      lane.parked = Math.max(0, lane.parked + parkedBy(entry))
      if (lane.entries.length > this.#limit) lane.seen.delete(keyOf(lane.entries.shift()!))
    }
    this.draw()
  }

  /** Entries drawn in this tab's own lane (what it tells the other panels). */
  own(): LaneEntry[] {
    return this.#lanes.get(this.#self)!.entries.slice()
  }

  /** Redraws every lane's visible lines, in time order, newest first. */
  draw(): void {
    for (const lane of this.#lanes.values()) {
      const items = [...lane.entries]
        .sort((a, b) => a.at - b.at)
        .slice(-VISIBLE)
        .reverse()
        .map(entry => {
          const li = this.#doc.createElement('li')
          li.dataset['kind'] = entry.kind
          li.textContent = line(entry)
          return li
        })
      lane.list.replaceChildren(...items)
      lane.waiting.textContent = lane.parked ? `${lane.parked} waiting` : ''
    }
  }

  #lane(tab: string): Lane {
    let lane = this.#lanes.get(tab)
    if (lane) return lane
    const self = tab === this.#self
    const element = this.#doc.createElement('div')
    element.className = 'rotor-devtools-lane'
    element.dataset['tab'] = tab
    if (self) element.dataset['self'] = ''
    const title = this.#doc.createElement('h3')
    title.textContent = self ? `${tab.slice(0, 8)} (this tab)` : tab.slice(0, 8)
    const waiting = this.#doc.createElement('span')
    waiting.className = 'rotor-devtools-waiting'
    title.append(' ', waiting)
    const list = this.#doc.createElement('ol')
    element.append(title, list)
    this.element.append(element)
    lane = { element, list, waiting, entries: [], seen: new Set(), parked: 0 }
    this.#lanes.set(tab, lane)
    return lane
  }
}
