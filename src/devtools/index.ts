/** rotor-auth/devtools: a framework-free live panel of a session — every tab's timeline, its countdowns and waiting requests — and `<rotor-devtools>`. */
import { defaultPlatform } from '../platform/defaults.js'
import type { Platform, Timer } from '../platform/types.js'
import type { Session, SessionEvents } from '../types.js'
import { sharePanels } from './share.js'
import { PANEL_CSS } from './style.js'
import { Timeline, type LaneEntry } from './timeline.js'

export type { LaneEntry } from './timeline.js'

/** What `mountDevtools` and the `<rotor-devtools>` element take. */
export type DevtoolsOptions = {
  /**
   * Share this tab's lane with the panels of the session's other tabs (a BroadcastChannel of
   * its own, opened only by pages that mount the panel), so each panel draws every tab's lane.
   * @default true
   */
  shareTabs?: boolean
  /** How many entries each lane keeps. @default 200 */
  limit?: number
  /** Pieces of the runtime to use instead of the page's own (tests). */
  platform?: Partial<Platform>
}

const TICK_MS = 1000

/** The session's events a lane draws beside its decisions (their outcomes), reduced to fields that carry no token. */
const EVENTS = {
  rotate: (e: SessionEvents['rotate']) => ({ generation: e.state.generation, origin: e.origin }),
  'rotate-error': (e: SessionEvents['rotate-error']) => ({
    code: (e.error as { code?: unknown } | null)?.code as string | undefined,
    attempt: e.attempt,
    willRetry: e.willRetry,
  }),
  logout: (e: SessionEvents['logout']) => ({ reason: e.reason, origin: e.origin }),
  'worker-fallback': (e: SessionEvents['worker-fallback']) => ({ reason: e.reason }),
  'clock-skew': (e: SessionEvents['clock-skew']) => ({ offset: e.offset }),
} satisfies { [K in keyof SessionEvents]?: (e: SessionEvents[K]) => Record<string, unknown> }

/**
 * Draws the panel into `element` and keeps it live; returns the unmount. Built with
 * `textContent` only: nothing an entry carries is ever parsed as HTML (and no entry carries
 * a token, cookie or body in the first place).
 */
export function mountDevtools(session: Session, element: HTMLElement, options: DevtoolsOptions = {}): () => void {
  const doc = element.ownerDocument
  const platform = { ...defaultPlatform(), ...options.platform }
  const initial = session.trace()
  const self = initial.tabs[0]!
  const timeline = new Timeline(doc, self, options.limit ?? 200)
  const { root, summary } = frame(doc, timeline, () => void exportTrace(session, doc))
  element.append(root)
  timeline.add(initial.entries)

  const share =
    options.shareTabs !== false && initial.session
      ? sharePanels(
          platform,
          initial.session,
          self,
          () => timeline.own(),
          (tab, entries) => timeline.add(entries, tab),
        )
      : undefined
  const summarize = () => (summary.textContent = describe(session, platform.now()))
  const show = (entry: LaneEntry) => {
    timeline.add([entry])
    share?.tell([entry])
    summarize()
  }
  let events = 0
  const offs = [
    session.on('trace', show),
    ...Object.entries(EVENTS).map(([type, fields]) =>
      session.on(type as 'rotate', payload => show({ ...(fields as (p: unknown) => object)(payload), at: platform.now(), tab: self, seq: events++, kind: `event:${type}` })),
    ),
  ]

  let ticker: Timer | undefined
  const tick = () => {
    summarize()
    ticker = platform.after(TICK_MS, tick)
  }
  tick()

  return () => {
    ticker?.cancel()
    for (const off of offs) off()
    share?.close()
    root.remove()
  }
}

/** The panel's frame: its style, the summary line, the export button and the lanes. */
function frame(doc: Document, timeline: Timeline, onExport: () => void) {
  const root = doc.createElement('section')
  root.className = 'rotor-devtools'
  root.setAttribute('aria-label', 'Rotor session')
  const style = doc.createElement('style')
  style.textContent = PANEL_CSS
  const header = doc.createElement('header')
  const summary = doc.createElement('p')
  summary.className = 'rotor-devtools-summary'
  const button = doc.createElement('button')
  button.type = 'button'
  button.className = 'rotor-devtools-export'
  button.textContent = 'Export trace'
  button.title = "Download every tab's trace as one JSON file, for a bug report"
  button.addEventListener('click', onExport)
  header.append(summary, button)
  root.append(style, header, timeline.element)
  return { root, summary }
}

/** Downloads `session.trace({ tabs: true })` as `rotor-trace-<time>.json`. */
async function exportTrace(session: Session, doc: Document): Promise<void> {
  const trace = await session.trace({ tabs: true })
  const view = doc.defaultView
  if (!view) return
  const href = view.URL.createObjectURL(new view.Blob([JSON.stringify(trace, null, 2)], { type: 'application/json' }))
  const link = doc.createElement('a')
  link.href = href
  link.download = `rotor-trace-${new Date(trace.at).toISOString().replace(/[:.]/g, '-')}.json`
  link.click()
  view.URL.revokeObjectURL(href)
}

const seconds = (ms: number | null, now: number) => (ms === null ? '–' : `${Math.max(0, Math.ceil((ms - now) / 1000))} s`)

/** One line: status, generation, what the tokens have left, the warnings being given. */
function describe(session: Session, now: number): string {
  const { status, generation, accessExpiresAt, refreshExpiresAt } = session.state
  const { idle, ending } = session.warnings
  const parts = [`${status}`, `generation ${generation}`, `AT ${seconds(accessExpiresAt, now)}`, `RT ${seconds(refreshExpiresAt, now)}`]
  if (idle !== null) parts.push(`idle logout in ${seconds(idle, now)}`)
  if (ending !== null) parts.push(`session ends in ${seconds(ending, now)}`)
  return parts.join(' · ')
}

/** `<rotor-devtools>`'s element: set its `session` property and it mounts the panel while connected. */
export type DevtoolsElement = HTMLElement & { session: Session | undefined }

/**
 * Defines `<rotor-devtools>` (or `name`) in `registry`, once; importing this module defines
 * nothing (the package has no side effects). Usage: `defineDevtoolsElement()`, then
 * `document.querySelector('rotor-devtools').session = session`.
 */
export function defineDevtoolsElement(name = 'rotor-devtools', registry: CustomElementRegistry = globalThis.customElements): void {
  if (registry.get(name)) return
  class RotorDevtools extends globalThis.HTMLElement implements DevtoolsElement {
    #session: Session | undefined
    #unmount: (() => void) | undefined
    get session() {
      return this.#session
    }
    set session(session: Session | undefined) {
      this.#session = session
      this.#mount()
    }
    connectedCallback() {
      this.#mount()
    }
    disconnectedCallback() {
      this.#unmount?.()
      this.#unmount = undefined
    }
    #mount() {
      this.#unmount?.()
      this.#unmount = this.isConnected && this.#session ? mountDevtools(this.#session, this) : undefined
    }
  }
  registry.define(name, RotorDevtools)
}
