/**
 * The page of `npm run demo:browser` (see ../demo-browser.ts): one Rotor session per tab,
 * shown live. Plain TypeScript and DOM; bundled for the browser with esbuild and served by
 * the reference auth server on the same origin as its routes (cookie transport, no CORS).
 *
 * Open it in several tabs: sign in once and every tab joins; a rotation in one tab shows as
 * `remote` in the others, with the name of the tab that rotated.
 */
import { createSession, type LogoutReason, type Origin, type SessionState } from '../../src/index.js'
import { mountDevtools } from '../../src/devtools/index.js'

// ---------------------------------------------------------------- setup

const TENANT = 'diku'
const TRAFFIC_EVERY_MS = 500
const LONG_OP_CHUNKS = 20
const LONG_OP_CHUNK_MS = 1_000
const IDLE = { timeout: 60_000, warning: 15_000 }
/** The session's default rotateAt: where the tick on the AT bar sits. */
const ROTATE_AT = 0.8

const ANIMALS = ['Otter', 'Heron', 'Lynx', 'Puffin', 'Badger', 'Wren', 'Ibis', 'Koala', 'Newt', 'Orca', 'Panda', 'Raven', 'Seal', 'Tapir', 'Yak', 'Crane', 'Gecko', 'Moose']
const tabName = `${ANIMALS[Math.floor(Math.random() * ANIMALS.length)]} ${10 + Math.floor(Math.random() * 90)}`
document.title = `${tabName} · Rotor live session`

/** AT and RT lifetimes the server announced in the page (`<meta name="rotor-demo-ttl" content="at,rt">`). */
const configuredTtl = (() => {
  const [at, rt] = (document.querySelector<HTMLMetaElement>('meta[name="rotor-demo-ttl"]')?.content ?? '').split(',').map(Number)
  return { at: at && at > 0 ? at : undefined, rt: rt && rt > 0 ? rt : undefined }
})()

/** `?worker`: the rotation worker (served by the demo at /rotor-worker.js) rotates for every tab. */
const WITH_WORKER = new URLSearchParams(location.search).has('worker')

const session = createSession({
  scope: location.origin,
  headers: { 'X-Okapi-Tenant': TENANT },
  rotation: 'timer',
  idle: IDLE,
  ...(WITH_WORKER ? { worker: '/rotor-worker.js' } : {}),
})

// ---------------------------------------------------------------- DOM helpers

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id)
  if (!el) throw new Error(`#${id} missing from index.html`)
  return el as T
}

const el = {
  tabName: $('tab-name'),
  status: $('status'),
  generation: $('generation'),
  lastRotation: $('last-rotation'),
  atLeft: $('at-left'),
  atBar: $('at-bar'),
  rtLeft: $('rt-left'),
  rtBar: $('rt-bar'),
  loginCard: $('login-card'),
  loginForm: $<HTMLFormElement>('login-form'),
  username: $<HTMLInputElement>('username'),
  password: $<HTMLInputElement>('password'),
  loginButton: $<HTMLButtonElement>('login'),
  loginError: $('login-error'),
  rotate: $<HTMLButtonElement>('rotate'),
  logout: $<HTMLButtonElement>('logout'),
  sleep: $<HTMLButtonElement>('sleep'),
  longOp: $<HTMLButtonElement>('long-op'),
  opText: $('op-text'),
  opBar: $('op-bar'),
  traffic: $<HTMLInputElement>('traffic'),
  countOk: $('count-ok'),
  count401: $('count-401'),
  countError: $('count-error'),
  tabs: $('tabs'),
  log: $<HTMLOListElement>('log'),
  clearLog: $<HTMLButtonElement>('clear-log'),
  idleBanner: $('idle-banner'),
  idleLeft: $('idle-left'),
  stay: $<HTMLButtonElement>('stay'),
  sleepPanel: $('sleep-panel'),
  sleepGap: $('sleep-gap'),
  wake: $<HTMLButtonElement>('wake'),
}

function h(tag: string, attrs: Record<string, string> = {}, text = ''): HTMLElement {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  node.textContent = text
  return node
}

const clock = (at: number) => {
  const d = new Date(at)
  const pad = (n: number, w = 2) => String(n).padStart(w, '0')
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
}

const seconds = (ms: number) => (ms >= 60_000 ? `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s` : `${(ms / 1000).toFixed(1)} s`)

// ---------------------------------------------------------------- event log

type Kind = 'change' | 'rotate' | 'rotate-error' | 'logout' | 'idle-warning' | 'note'
const MAX_LOG = 200

function log(kind: Kind, detail: string | Node[], extra: Record<string, string> = {}): HTMLElement {
  el.log.querySelector('.empty')?.remove()
  const item = h('li', { 'data-kind': kind, ...extra })
  item.append(h('time', {}, clock(Date.now())), h('span', { class: 'kind' }, kind))
  const body = h('span', { class: 'detail' })
  if (typeof detail === 'string') body.textContent = detail
  else body.append(...detail)
  item.append(body)
  el.log.prepend(item)
  while (el.log.children.length > MAX_LOG) el.log.lastElementChild?.remove()
  return item
}

function originBadge(origin: Origin): HTMLElement {
  return h('span', { class: `origin origin-${origin}` }, origin)
}

const describeState = (s: SessionState) => `${s.status}${s.rotating ? ' · rotating' : ''} · generation ${s.generation}`

// ---------------------------------------------------------------- other tabs (the demo's own channel)

/**
 * Rotor's `rotate` event says whether a rotation was local or remote, not which tab made it:
 * the demo tabs tell each other on a channel of their own who rotated which generation, and
 * who is open.
 */
type DemoMessage =
  | { type: 'presence'; tab: string; status: SessionState['status']; generation: number }
  | { type: 'rotated'; tab: string; generation: number }
  | { type: 'hello'; tab: string }
  | { type: 'bye'; tab: string }
  /** Someone answered the idle warning: Rotor resets every tab's idle clock, but has no event for it. */
  | { type: 'awake'; tab: string }

function isDemoMessage(data: unknown): data is DemoMessage {
  if (typeof data !== 'object' || data === null) return false
  const m = data as Record<string, unknown>
  if (typeof m.tab !== 'string' || m.tab.length > 40) return false
  switch (m.type) {
    case 'presence':
      return (m.status === 'active' || m.status === 'signed-out') && Number.isSafeInteger(m.generation)
    case 'rotated':
      return Number.isSafeInteger(m.generation)
    case 'hello':
    case 'bye':
    case 'awake':
      return true
    default:
      return false
  }
}

const demoChannel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('rotor-demo') : undefined
const post = (message: DemoMessage) => demoChannel?.postMessage(message)

/** generation → name of the tab that rotated to it. */
const rotatedBy = new Map<number, string>()
/** Remote rotations logged before their tab's announcement arrived. */
const pendingAttribution = new Map<number, HTMLElement>()
const peers = new Map<string, { status: SessionState['status']; generation: number; seen: number }>()

let lastRotation: { generation: number; origin: Origin; at: number } | undefined

function attribute(generation: number, tab: string): void {
  rotatedBy.set(generation, tab)
  const pending = pendingAttribution.get(generation)
  if (pending) {
    pending.textContent = `by ${tab}`
    pendingAttribution.delete(generation)
  }
  if (rotatedBy.size > 100) rotatedBy.delete(rotatedBy.keys().next().value as number)
  render()
}

function presence(): void {
  const { status, generation } = session.state
  post({ type: 'presence', tab: tabName, status, generation })
}

demoChannel?.addEventListener('message', (event: MessageEvent<unknown>) => {
  const m = event.data
  if (!isDemoMessage(m) || m.tab === tabName) return
  switch (m.type) {
    case 'hello':
      presence() // the newcomer's own presence follows its hello
      break
    case 'presence':
      peers.set(m.tab, { status: m.status, generation: m.generation, seen: Date.now() })
      break
    case 'rotated':
      attribute(m.generation, m.tab)
      break
    case 'bye':
      peers.delete(m.tab)
      break
    case 'awake':
      clearIdleWarning(false)
      break
  }
  renderTabs()
})

addEventListener('pagehide', () => post({ type: 'bye', tab: tabName }))

function renderTabs(): void {
  const now = Date.now()
  const mine = session.state
  const rows = [
    { name: tabName, status: mine.status, generation: mine.generation, me: true, stale: false },
    ...[...peers]
      // Background tabs run their timers once a second, or once a minute when long hidden.
      .filter(([, p]) => now - p.seen < 90_000)
      .map(([name, p]) => ({ name, status: p.status, generation: p.generation, me: false, stale: now - p.seen > 3_000 }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  ]
  el.tabs.replaceChildren(
    ...rows.map(row => {
      const classes = [row.me ? 'me' : '', row.stale ? 'stale' : '', row.generation !== mine.generation ? 'disagree' : ''].filter(Boolean)
      const tr = h('tr', classes.length ? { class: classes.join(' ') } : {})
      tr.append(h('td', {}, row.name), h('td', {}, row.stale ? `${row.status} (quiet)` : row.status), h('td', {}, String(row.generation)))
      return tr
    }),
  )
}

// ---------------------------------------------------------------- session events

session.on('change', state => {
  log('change', describeState(state))
  presence()
  render()
  renderTabs()
})

/** With `?worker`, until the session says it fell back: then the tabs rotate among themselves again. */
let workerRotates = WITH_WORKER
session.on('worker-fallback', ({ reason }) => {
  workerRotates = false
  log('note', `the rotation worker is not used: ${reason}`)
})

session.on('rotate', ({ state, origin }) => {
  const { generation } = state
  lastRotation = { generation, origin, at: Date.now() }
  const by = h('span', { class: 'by' })
  if (origin === 'local') {
    attribute(generation, tabName)
    post({ type: 'rotated', tab: tabName, generation })
    by.textContent = `by ${tabName} (this tab)`
  } else {
    const known = rotatedBy.get(generation) ?? (workerRotates ? 'the rotation worker' : undefined)
    by.textContent = known ? `by ${known}` : 'by another tab'
    if (!known) pendingAttribution.set(generation, by)
  }
  log('rotate', [originBadge(origin), document.createTextNode(` generation ${generation} `), by], { 'data-origin': origin })
  render()
})

session.on('rotate-error', ({ error, willRetry }) => {
  const e = error as { code?: unknown; message?: unknown } | null
  log('rotate-error', `${String(e?.code ?? '')} ${String(e?.message ?? error)}${willRetry ? ' · will retry' : ' · gave up'}`.trim())
})

const LOGOUT_REASONS: Record<LogoutReason, string> = {
  user: 'the user logged out',
  idle: 'idle timeout',
  expired: 'both tokens expired',
  rejected: 'the server refused the refresh token',
}

session.on('logout', ({ reason, origin }) => {
  log('logout', [originBadge(origin), document.createTextNode(` ${LOGOUT_REASONS[reason] ?? reason}`)], { 'data-origin': origin })
  idleLogoutAt = undefined
  render()
})

let idleLogoutAt: number | undefined
session.on('idle-warning', ({ logoutAt }) => {
  idleLogoutAt = logoutAt
  log('idle-warning', `signing out at ${clock(logoutAt)} unless someone is active in a tab`)
  render()
})

function clearIdleWarning(tellOthers: boolean): void {
  if (idleLogoutAt === undefined) return
  idleLogoutAt = undefined
  if (tellOthers) post({ type: 'awake', tab: tabName })
  render()
}
// The session counts these as activity by default: the warning is over, in every tab.
for (const type of ['pointerdown', 'keydown', 'wheel', 'touchstart']) addEventListener(type, () => clearIdleWarning(true), { passive: true })

el.stay.addEventListener('click', () => {
  session.keepAlive()
  clearIdleWarning(true)
})

// ---------------------------------------------------------------- login, logout, rotate

el.loginForm.addEventListener('submit', event => {
  event.preventDefault()
  el.loginError.textContent = ''
  el.loginButton.disabled = true
  void (async () => {
    try {
      const response = await fetch('/authn/login-with-expiry', {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'application/json', 'X-Okapi-Tenant': TENANT },
        body: JSON.stringify({ username: el.username.value, password: el.password.value }),
      })
      if (!response.ok) {
        el.loginError.textContent = `Login refused: ${response.status} ${(await response.text()).slice(0, 120)}`
        return
      }
      await session.start(response)
      log('note', `${tabName} signed in as ${el.username.value}`)
    } catch (error) {
      el.loginError.textContent = `Login failed: ${String(error)}`
    } finally {
      el.loginButton.disabled = false
      render()
    }
  })()
})

el.logout.addEventListener('click', () => {
  void session.logout().catch((error: unknown) => log('note', `logout failed: ${String(error)}`))
})

el.rotate.addEventListener('click', () => {
  el.rotate.disabled = true
  session
    .rotate()
    .catch((error: unknown) => log('note', `rotate failed: ${String((error as Error)?.message ?? error)}`))
    .finally(() => render())
})

// ---------------------------------------------------------------- traffic

const counts = { ok: 0, unauthorized: 0, error: 0 }
let traffic: ReturnType<typeof setInterval> | undefined

function ping(): void {
  session.fetch('/api/ping').then(
    response => {
      if (response.status === 200) counts.ok += 1
      else if (response.status === 401) counts.unauthorized += 1
      else counts.error += 1
      void response.body?.cancel()
    },
    (error: unknown) => {
      counts.error += 1
      const e = error as { code?: unknown; name?: unknown } | null
      log('note', `/api/ping rejected: ${String(e?.code ?? e?.name ?? error)}`)
    },
  )
}

function setTraffic(on: boolean): void {
  clearInterval(traffic)
  traffic = on ? setInterval(ping, TRAFFIC_EVERY_MS) : undefined
  el.traffic.checked = on
}

el.traffic.addEventListener('change', () => setTraffic(el.traffic.checked))

// ---------------------------------------------------------------- simulate sleep

/**
 * A page cannot suspend its machine. "Simulate sleep" stops this tab's own traffic and asks
 * the user to sleep the machine; a one-second heartbeat notices when timers were suspended.
 */
let trafficBeforeSleep = false
let heartbeat = Date.now()

el.sleep.addEventListener('click', () => {
  trafficBeforeSleep = traffic !== undefined
  setTraffic(false)
  el.traffic.disabled = true
  el.sleepPanel.hidden = false
  el.sleepGap.textContent = 'No suspension detected yet.'
  log('note', 'traffic paused: put the machine to sleep, then press Wake up')
})

el.wake.addEventListener('click', () => {
  el.sleepPanel.hidden = true
  el.traffic.disabled = false
  setTraffic(trafficBeforeSleep)
  const s = session.state
  const expired = s.accessExpiresAt !== null && s.accessExpiresAt <= Date.now()
  log('note', `woke up: the access token is ${expired ? 'expired, Rotor rotates before the next request' : 'still valid'}`)
})

setInterval(() => {
  const now = Date.now()
  const gap = now - heartbeat
  heartbeat = now
  if (gap > 3_000) {
    const text = `timers were suspended for ${seconds(gap)} (sleep or a throttled tab)`
    el.sleepGap.textContent = `Detected: ${text}.`
    log('note', text)
  }
  if (demoChannel) presence()
  renderTabs()
}, 1_000)

// ---------------------------------------------------------------- long operation

let op: { done: number; failed: number } | undefined

el.longOp.addEventListener('click', () => {
  if (op) return
  const current = (op = { done: 0, failed: 0 })
  log('note', `long operation started: ${LONG_OP_CHUNKS} chunks, one a second, inside session.busy()`)
  render()
  const work = (async () => {
    for (let i = 1; i <= LONG_OP_CHUNKS; i++) {
      await new Promise(resolve => setTimeout(resolve, LONG_OP_CHUNK_MS))
      try {
        const response = await session.fetch('/api/import/chunks', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ chunk: i, of: LONG_OP_CHUNKS }),
        })
        if (!response.ok) current.failed += 1
        void response.body?.cancel()
      } catch {
        current.failed += 1
      }
      current.done = i
      render()
    }
  })()
  void session.busy(work).finally(() => {
    log('note', `long operation finished: ${current.done - current.failed}/${LONG_OP_CHUNKS} chunks accepted, ${current.failed} failed`)
    op = undefined
    el.opText.textContent = `done: ${current.done - current.failed}/${LONG_OP_CHUNKS} ok`
    render()
  })
})

// ---------------------------------------------------------------- render

/** Scale of a countdown bar: the configured lifetime, else the longest remaining time seen. */
const spans = { at: { expiresAt: 0, span: 0 }, rt: { expiresAt: 0, span: 0 } }

function meter(which: 'at' | 'rt', expiresAt: number | null, text: HTMLElement, bar: HTMLElement): void {
  if (expiresAt === null) {
    text.textContent = '–'
    bar.style.width = '0'
    bar.classList.remove('low')
    return
  }
  const left = Math.max(0, expiresAt - Date.now())
  const seen = spans[which]
  if (seen.expiresAt !== expiresAt) {
    seen.expiresAt = expiresAt
    seen.span = left
  }
  const span = configuredTtl[which] ?? seen.span
  const fraction = span > 0 ? Math.min(1, left / span) : 0
  text.textContent = left > 0 ? seconds(left) : 'expired'
  bar.style.width = `${(fraction * 100).toFixed(2)}%`
  bar.classList.toggle('low', which === 'at' && fraction < 1 - ROTATE_AT)
}

function render(): void {
  const s = session.state
  const active = s.status === 'active'
  el.status.textContent = s.rotating ? 'rotating' : s.status
  el.status.dataset.status = s.status
  el.status.dataset.rotating = String(s.rotating)
  el.generation.textContent = String(s.generation)

  if (lastRotation) {
    const by = rotatedBy.get(lastRotation.generation) ?? (workerRotates ? 'the rotation worker' : 'another tab')
    const who = lastRotation.origin === 'local' ? `${tabName} (this tab)` : by
    el.lastRotation.replaceChildren(
      originBadge(lastRotation.origin),
      document.createTextNode(` generation ${lastRotation.generation} by ${who}, ${seconds(Date.now() - lastRotation.at)} ago`),
    )
  }

  meter('at', s.accessExpiresAt, el.atLeft, el.atBar)
  meter('rt', s.refreshExpiresAt, el.rtLeft, el.rtBar)

  el.loginCard.hidden = active
  el.rotate.disabled = !active || s.rotating
  el.logout.disabled = !active
  el.longOp.disabled = !active || op !== undefined
  el.sleep.disabled = !el.sleepPanel.hidden

  if (op) {
    el.opText.textContent = `${op.done}/${LONG_OP_CHUNKS}${op.failed ? ` · ${op.failed} failed` : ''}`
    el.opBar.style.width = `${(100 * op.done) / LONG_OP_CHUNKS}%`
  }

  el.countOk.textContent = String(counts.ok)
  el.count401.textContent = String(counts.unauthorized)
  el.count401.classList.toggle('nonzero', counts.unauthorized > 0)
  el.countError.textContent = String(counts.error)
  el.countError.classList.toggle('nonzero', counts.error > 0)

  if (idleLogoutAt !== undefined && (!active || Date.now() > idleLogoutAt + 1_000)) idleLogoutAt = undefined
  el.idleBanner.hidden = idleLogoutAt === undefined
  if (idleLogoutAt !== undefined) el.idleLeft.textContent = seconds(Math.max(0, idleLogoutAt - Date.now()))
}

el.clearLog.addEventListener('click', () => el.log.replaceChildren())

// ---------------------------------------------------------------- start

el.tabName.textContent = tabName
log('note', `${tabName} opened: ${session.state.status}, generation ${session.state.generation}`)
post({ type: 'hello', tab: tabName })
presence()
render()
renderTabs()
setInterval(render, 100)

/** For the console and the page's test. */
declare global {
  interface Window {
    demo: { session: typeof session; tabName: string }
  }
}
// The devtools panel (rotor-auth/devtools): one lane per tab of this page, kept live.
mountDevtools(session, $('devtools'))

window.demo = { session, tabName }
