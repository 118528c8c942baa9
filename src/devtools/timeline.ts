/** The devtools panel's timeline: one lane per tab, its latest decisions newest first, and what waits there now. */
import type { TraceEntry } from '../trace/recorder.js'

/** Fields shown beside an entry's kind, in this order, when present. */
const SHOWN = ['generation', 'origin', 'ok', 'status', 'error', 'method', 'url', 'why', 'waitedMs', 'reason', 'leader', 'attempt', 'limit']
/** Lines a lane shows (it keeps more: `limit`). */
const VISIBLE = 12

type Lane = { element: HTMLElement; list: HTMLOListElement; waiting: HTMLElement; entries: TraceEntry[]; parked: number }

const clockTime = (at: number) => new Date(at).toISOString().slice(11, 23)

function line(entry: TraceEntry): string {
  const fields = SHOWN.filter(k => entry[k] !== undefined).map(k => `${k}=${String(entry[k])}`)
  return [clockTime(entry.at), entry.kind, ...fields].join(' ')
}

export class Timeline {
  readonly element: HTMLElement
  readonly #doc: Document
  readonly #limit: number
  readonly #lanes = new Map<string, Lane>()
  readonly #seen = new Set<string>()

  constructor(doc: Document, limit: number) {
    this.#doc = doc
    this.#limit = limit
    this.element = doc.createElement('div')
    this.element.className = 'rotor-devtools-lanes'
  }

  /** Adds entries (from this tab or another's panel), each once. */
  add(entries: TraceEntry[], self: string): void {
    for (const entry of entries) {
      const key = `${entry.tab} ${entry.at} ${entry.kind}`
      if (this.#seen.has(key)) continue
      this.#seen.add(key)
      const lane = this.#lane(entry.tab, entry.tab === self)
      lane.entries.push(entry)
      if (entry.kind === 'request-parked') lane.parked++
      if (entry.kind === 'request-released') lane.parked = Math.max(0, lane.parked - 1)
      if (lane.entries.length > this.#limit) lane.entries.shift()
    }
    this.draw()
  }

  /** Redraws every lane's visible lines. */
  draw(_now?: number): void {
    for (const lane of this.#lanes.values()) {
      const items = lane.entries.slice(-VISIBLE).reverse().map(entry => {
        const li = this.#doc.createElement('li')
        li.dataset.kind = entry.kind
        li.textContent = line(entry)
        return li
      })
      lane.list.replaceChildren(...items)
      lane.waiting.textContent = lane.parked ? `${lane.parked} waiting` : ''
    }
  }

  #lane(tab: string, self: boolean): Lane {
    let lane = this.#lanes.get(tab)
    if (lane) return lane
    const element = this.#doc.createElement('div')
    element.className = 'rotor-devtools-lane'
    element.dataset.tab = tab
    if (self) element.dataset.self = ''
    const title = this.#doc.createElement('h3')
    title.textContent = self ? `${tab.slice(0, 8)} (this tab)` : tab.slice(0, 8)
    const waiting = this.#doc.createElement('span')
    waiting.className = 'rotor-devtools-waiting'
    title.append(' ', waiting)
    const list = this.#doc.createElement('ol')
    element.append(title, list)
    // This tab's lane first, the others in the order they were heard.
    if (self) this.element.prepend(element)
    else this.element.append(element)
    lane = { element, list, waiting, entries: [], parked: 0 }
    this.#lanes.set(tab, lane)
    return lane
  }
}
