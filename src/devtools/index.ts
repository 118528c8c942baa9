/** rotor-auth/devtools: a framework-free live panel of a session — its tabs' timelines, countdowns and waiting requests. */
import { defaultPlatform } from '../platform/defaults.js'
import type { ChannelLike, Timer } from '../platform/types.js'
import type { TraceEntry } from '../trace/recorder.js'
import type { Session } from '../types.js'
import { PANEL_CSS } from './style.js'
import { Timeline } from './timeline.js'

export type DevtoolsOptions = {
  /**
   * Share this tab's entries with the panels of the session's other tabs (a BroadcastChannel of
   * its own, opened only by pages that mount the panel), so each panel draws every tab's lane.
   * @default true
   */
  shareTabs?: boolean
  /** How many entries each lane keeps. @default 200 */
  limit?: number
}

const TICK_MS = 1000

/**
 * Draws the panel into `element` and keeps it live; returns the unmount. Built with
 * `textContent` only: nothing an entry carries is ever parsed as HTML (and no entry carries
 * a token, cookie or body in the first place).
 */
export function mountDevtools(session: Session, element: HTMLElement, options: DevtoolsOptions = {}): () => void {
  const doc = element.ownerDocument
  const platform = defaultPlatform()
  const root = doc.createElement('section')
  root.className = 'rotor-devtools'
  root.setAttribute('aria-label', 'Rotor session')
  const style = doc.createElement('style')
  style.textContent = PANEL_CSS
  const header = doc.createElement('header')
  const summary = doc.createElement('p')
  summary.className = 'rotor-devtools-summary'
  header.append(summary)
  const timeline = new Timeline(doc, options.limit ?? 200)
  root.append(style, header, timeline.element)
  element.append(root)

  const initial = session.trace()
  const self = initial.tabs[0] ?? 'this tab'
  timeline.add(initial.entries, self)

  let channel: ChannelLike | undefined
  if (options.shareTabs !== false && initial.session && platform.channel) {
    channel = platform.channel(`${initial.session}:devtools`)
    channel.onmessage = event => {
      const entries = (event.data as { rotorDevtools?: TraceEntry[] } | null)?.rotorDevtools
      if (Array.isArray(entries)) timeline.add(entries.filter(isEntry), self)
    }
    // A panel mounted later asks the others for what they hold.
    channel.postMessage({ rotorDevtools: initial.entries })
  }
  const offTrace = session.on('trace', entry => {
    timeline.add([entry], self)
    channel?.postMessage({ rotorDevtools: [entry] })
  })

  let ticker: Timer | undefined
  const draw = () => {
    summary.textContent = describe(session, platform.now())
    timeline.draw(platform.now())
    ticker = platform.after(TICK_MS, draw)
  }
  draw()

  return () => {
    ticker?.cancel()
    offTrace()
    channel?.close()
    root.remove()
  }
}

function isEntry(value: unknown): value is TraceEntry {
  const e = value as TraceEntry | null
  return typeof e === 'object' && e !== null && typeof e.at === 'number' && typeof e.tab === 'string' && typeof e.kind === 'string'
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
