/**
 * The script of `/xhr.html`, the page of the XMLHttpRequest tests (`xhr.test.ts`). Bundled
 * by the test (esbuild, IIFE, axios included) and run after `/rotor.js`, the IIFE build of
 * `src/index.ts` that defines the global `Rotor` (the same bundle `harness.ts` builds).
 *
 * `window.xt.setup(...)` creates a session and installs it (so `XMLHttpRequest` becomes the
 * facade); `window.xt.send(...)` runs one XHR with listeners registered every way and records
 * every event as the caller sees it (type, target, how it was listened to, `readyState` and
 * `status` at that moment, progress figures). Everything the tests read is plain data.
 */
import axios from 'axios'
import type * as RotorModule from '../../src/index.js'
import type { LogoutReason, Origin, Session, SessionOptions, XhrFacade } from '../../src/index.js'
import { xhr } from '../../src/xhr.js'

declare const Rotor: typeof RotorModule

/** The browser's own class and fetch, saved before any install(). */
const NativeXHR = window.XMLHttpRequest
const nativeFetch = window.fetch

export type SetupOptions = {
  rotation?: 'timer' | 'request'
  transport?: 'cookie' | 'bearer'
  /** Path prefix of the scope on this origin ('' = the whole origin). */
  scopePath?: string
  /** Path of the refresh endpoint on this origin (default: the library's default). */
  refreshPath?: string
  refreshStyle?: 'folio' | 'json'
  /** `logout: false` when set. */
  noLogout?: boolean
  queueTimeout?: number
  /** Call `session.install(window, { xhr })` (default true). */
  install?: boolean
}

export type XhrEvent = {
  target: 'xhr' | 'upload'
  type: string
  /** `on`: the `on<type>` handler; `listener`: an `addEventListener` listener. */
  via: 'on' | 'listener'
  readyState: number
  status: number
  loaded?: number
  total?: number
  lengthComputable?: boolean
  /** ms since send() */
  at: number
}

export type XhrSpec = {
  method: string
  url: string
  /** `{ blob: n }`: a Blob of n bytes ('a' repeated); `{ buffer: n }`: an ArrayBuffer; a string as is. */
  body?: string | { blob: number } | { buffer: number }
  headers?: Record<string, string>
  async?: boolean
  /** Use the browser's own class (saved before install), for comparisons. */
  native?: boolean
  timeout?: number
  /** Register upload listeners (default: when there is a body). */
  uploadListeners?: boolean
}

export type XhrRecord = {
  events: XhrEvent[]
  /** Exception thrown by open/setRequestHeader/send, if any. */
  thrown?: string
  /** Filled at the first `loadend` (or right after a synchronous send). */
  final?: {
    status: number
    readyState: number
    responseLength: number
    /** The server's echo (`/api/*` answers 200 with `{ method, path, body, via, … }`), body reduced to its length. */
    echo?: { method: string; path: string; bodyLength: number; bodyHead: string; via: string }
    text?: string
    contentType: string | null
  }
  /** readyState and status right after send() returned. */
  afterSend?: { readyState: number; status: number }
  /** Name of the class actually used. */
  className: string
  done: boolean
}

type Handle = { xhr: XMLHttpRequest; record: XhrRecord; started: number }

const now = (): number => performance.timeOrigin + performance.now()

const XHR_EVENTS = ['readystatechange', 'loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend'] as const
const UPLOAD_EVENTS = ['loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend'] as const

const handles: Handle[] = []

function makeBody(body: XhrSpec['body']): XMLHttpRequestBodyInit | null {
  if (body === undefined) return null
  if (typeof body === 'string') return body
  if ('blob' in body) return new Blob(['a'.repeat(body.blob)], { type: 'text/plain' })
  const bytes = new Uint8Array(body.buffer)
  bytes.fill(0x61) // 'a': the server reads the body as text
  return bytes.buffer
}

function finalOf(xhr: XMLHttpRequest): NonNullable<XhrRecord['final']> {
  const text = typeof xhr.responseText === 'string' ? xhr.responseText : ''
  const final: NonNullable<XhrRecord['final']> = {
    status: xhr.status,
    readyState: xhr.readyState,
    responseLength: text.length,
    contentType: xhr.getResponseHeader('content-type'),
  }
  if (xhr.status === 200 && text.startsWith('{')) {
    const echo = JSON.parse(text) as { method: string; path: string; body: string; via: string }
    final.echo = { method: echo.method, path: echo.path, bodyLength: echo.body.length, bodyHead: echo.body.slice(0, 200), via: echo.via }
  } else {
    final.text = text.slice(0, 200)
  }
  return final
}

/** Runs one XHR, listeners registered every way; returns its id. */
function send(spec: XhrSpec): number {
  const Class = spec.native ? NativeXHR : window.XMLHttpRequest
  const xhr = new Class()
  const record: XhrRecord = { events: [], className: xhr.constructor.name, done: false }
  const handle: Handle = { xhr, record, started: now() }
  const id = handles.push(handle) - 1
  const push = (target: XhrEvent['target'], via: XhrEvent['via'], event: Event) => {
    const entry: XhrEvent = { target, type: event.type, via, readyState: xhr.readyState, status: xhr.status, at: now() - handle.started }
    if (event instanceof ProgressEvent) {
      entry.loaded = event.loaded
      entry.total = event.total
      entry.lengthComputable = event.lengthComputable
    }
    record.events.push(entry)
  }
  const x = xhr as unknown as Record<string, unknown>
  for (const type of XHR_EVENTS) {
    x[`on${type}`] = (event: Event) => push('xhr', 'on', event)
    xhr.addEventListener(type, event => {
      push('xhr', 'listener', event)
      if (type === 'loadend' && !record.done) {
        record.done = true
        record.final = finalOf(xhr)
      }
    })
  }
  const body = makeBody(spec.body)
  if (spec.uploadListeners ?? body !== null) {
    const u = xhr.upload as unknown as Record<string, unknown>
    for (const type of UPLOAD_EVENTS) {
      u[`on${type}`] = (event: Event) => push('upload', 'on', event)
      xhr.upload.addEventListener(type, event => push('upload', 'listener', event))
    }
  }
  try {
    xhr.open(spec.method, spec.url, spec.async ?? true)
    for (const [name, value] of Object.entries(spec.headers ?? {})) xhr.setRequestHeader(name, value)
    if (spec.timeout !== undefined) xhr.timeout = spec.timeout
    xhr.send(body)
    record.afterSend = { readyState: xhr.readyState, status: xhr.status }
    if (spec.async === false && !record.done) {
      record.done = true
      record.final = finalOf(xhr)
    }
  } catch (error) {
    record.thrown = String(error)
    record.done = true
  }
  return id
}

export type SessionEvent =
  | { type: 'rotate'; origin: Origin; generation: number; at: number }
  | { type: 'logout'; origin: Origin; reason: LogoutReason; at: number }
  | { type: 'rotate-error'; willRetry: boolean; error: string; at: number }

export type AxiosStats = {
  sent: number
  ok: number
  /** status → count, for every answer that was not 200 (axios rejects on >= 400). */
  other: Record<string, number>
  errors: string[]
  /** Classes of the XHR objects axios used (response.request.constructor.name). */
  requestClasses: string[]
  /** Every response.request was an instance of the installed class. */
  allFacade: boolean
}

export type XhrPageApi = {
  /** The facade of `rotor-auth/xhr`, for `session.install(window, { xhr })`. */
  xhr: XhrFacade
  session: Session | undefined
  events: SessionEvent[]
  NativeXHR: typeof XMLHttpRequest
  nativeFetch: typeof fetch
  setup(options: SetupOptions): void
  /** Login with the page's own fetch, then `session.start(response)`. Returns the login status. */
  login(kind?: 'folio' | 'bearer'): Promise<number>
  send(spec: XhrSpec): number
  record(id: number): XhrRecord
  abort(id: number): XhrRecord
  /** Opens and sends the same XHR object again (its listeners stay); `done` is reset. */
  resend(id: number, spec: XhrSpec): XhrRecord
  /** Resolves with the record once `loadend` fired (or the call was synchronous / threw). */
  settle(id: number, timeout?: number): Promise<XhrRecord>
  /** The adapter axios resolves its defaults to in this page (`adapterName`). */
  axiosAdapter(): string
  /** `axios.get(url)` every `intervalMs` for `durationMs`; resolves once every call settled. */
  axiosLoop(url: string, intervalMs: number, durationMs: number): Promise<AxiosStats>
}

declare global {
  interface Window {
    xt: XhrPageApi
  }
}

const events: SessionEvent[] = []

function setup(options: SetupOptions): void {
  const transport = options.transport ?? 'cookie'
  const scope = location.origin + (options.scopePath ?? '')
  const init: SessionOptions = {
    scope,
    rotation: options.rotation ?? 'timer',
    transport,
    headers: { 'X-Okapi-Tenant': 'diku' },
  }
  if (options.refreshPath) {
    init.refresh = { url: location.origin + options.refreshPath, style: options.refreshStyle ?? 'folio' }
  }
  if (options.noLogout) init.logout = false
  if (options.queueTimeout !== undefined) init.queueTimeout = options.queueTimeout
  const session = Rotor.createSession(init)
  session.on('rotate', ({ state, origin }) => events.push({ type: 'rotate', origin, generation: state.generation, at: now() }))
  session.on('logout', ({ reason, origin }) => events.push({ type: 'logout', origin, reason, at: now() }))
  session.on('rotate-error', ({ error, willRetry }) => events.push({ type: 'rotate-error', willRetry, error: String(error), at: now() }))
  window.xt.session = session
  if (options.install ?? true) session.install(window, { xhr })
}

window.xt = {
  session: undefined,
  xhr,
  events,
  NativeXHR,
  nativeFetch,
  setup,
  async login(kind = 'folio') {
    const session = window.xt.session
    if (!session) throw new Error('setup() first')
    const response =
      kind === 'folio'
        ? await nativeFetch('/authn/login-with-expiry', {
            method: 'POST',
            credentials: 'include',
            headers: { 'content-type': 'application/json', 'X-Okapi-Tenant': 'diku' },
            body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
          })
        : await nativeFetch('/bearer/login', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
          })
    if (response.ok) await session.start(response)
    return response.status
  },
  send,
  record(id) {
    const handle = handles[id]
    if (!handle) throw new Error(`no xhr ${id}`)
    return handle.record
  },
  abort(id) {
    const handle = handles[id]
    if (!handle) throw new Error(`no xhr ${id}`)
    handle.xhr.abort()
    handle.record.events.push({ target: 'xhr', type: '(abort returned)', via: 'on', readyState: handle.xhr.readyState, status: handle.xhr.status, at: now() - handle.started })
    return handle.record
  },
  resend(id, spec) {
    const handle = handles[id]
    if (!handle) throw new Error(`no xhr ${id}`)
    const { xhr, record } = handle
    record.done = false
    delete record.final
    record.events.push({ target: 'xhr', type: '(resend)', via: 'on', readyState: xhr.readyState, status: xhr.status, at: now() - handle.started })
    try {
      xhr.open(spec.method, spec.url, spec.async ?? true)
      for (const [name, value] of Object.entries(spec.headers ?? {})) xhr.setRequestHeader(name, value)
      xhr.send(makeBody(spec.body))
    } catch (error) {
      record.thrown = String(error)
      record.done = true
    }
    return record
  },
  async settle(id, timeout = 10_000) {
    const handle = handles[id]
    if (!handle) throw new Error(`no xhr ${id}`)
    const deadline = now() + timeout
    while (!handle.record.done) {
      if (now() > deadline) throw new Error(`xhr ${id} did not settle within ${timeout} ms: ${JSON.stringify(handle.record.events.map(e => e.type))}`)
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    // Let any trailing event (a second loadend, say) arrive before the test reads the record.
    await new Promise(resolve => setTimeout(resolve, 50))
    return handle.record
  },
  axiosAdapter() {
    const adapter = axios.getAdapter(axios.defaults.adapter) as { adapterName?: string; name?: string }
    return adapter.adapterName ?? adapter.name ?? 'unknown'
  },
  async axiosLoop(url, intervalMs, durationMs) {
    const stats: AxiosStats = { sent: 0, ok: 0, other: {}, errors: [], requestClasses: [], allFacade: true }
    const Installed = window.XMLHttpRequest
    const calls: Promise<void>[] = []
    const end = now() + durationMs
    while (now() < end) {
      stats.sent += 1
      calls.push(
        axios.get(url, { validateStatus: () => true }).then(
          response => {
            if (response.status === 200) stats.ok += 1
            else stats.other[response.status] = (stats.other[response.status] ?? 0) + 1
            const request: unknown = response.request
            const name = (request as { constructor?: { name?: string } } | null)?.constructor?.name ?? String(request)
            if (!stats.requestClasses.includes(name)) stats.requestClasses.push(name)
            if (!(request instanceof Installed)) stats.allFacade = false
          },
          (error: unknown) => {
            const e = error as { code?: unknown; message?: unknown } | null
            stats.errors.push(String(e?.code ?? e?.message ?? error))
          },
        ),
      )
      await new Promise(resolve => setTimeout(resolve, intervalMs))
    }
    await Promise.all(calls)
    return stats
  },
}
