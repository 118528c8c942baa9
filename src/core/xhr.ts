/**
 * XMLHttpRequest interception. Uploads with progress (FOLIO's Data Import among them) and
 * axios' default browser adapter use XHR, not fetch. stripes-core wraps XHR only half-way:
 * it hooks `onreadystatechange` and misses `load`/`addEventListener` listeners, so a caller
 * listening there still saw the first 401.
 *
 * A managed XHR here is a facade: every attempt is a real XHR of the original class, whose
 * events the facade re-dispatches to the caller's listeners and `on…` handlers. The attempt
 * answered 401 is silenced from its headers on (no listener of any kind sees it), the session
 * rotates (unless a newer generation superseded the token it carried), and the request is
 * sent once more with the same method, headers and body.
 */

/** What the interceptor needs from the session. */
export interface Gate {
  manages(url: URL): boolean
  /** True when a managed request may go out at once (usable AT, nothing in flight). */
  ready(): boolean
  /** Resolves when it may go out; rejects when the session ended or refresh kept failing. */
  wait(): Promise<void>
  /** Resolves when a generation newer than `generation` is usable. */
  recover(generation: number): Promise<void>
  generation(): number
  /** The bearer header to set, or undefined for the cookie transport. */
  authorization(): string | undefined
  cookies(): boolean
}

type XhrClass = typeof XMLHttpRequest

const EVENTS = ['readystatechange', 'loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend'] as const
const UPLOAD_EVENTS = ['loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend'] as const

/** A copy of an event for re-dispatch on the facade (events cannot be dispatched twice). */
function copy(event: Event): Event {
  if (typeof ProgressEvent !== 'undefined' && event instanceof ProgressEvent) {
    return new ProgressEvent(event.type, { lengthComputable: event.lengthComputable, loaded: event.loaded, total: event.total })
  }
  return new Event(event.type)
}

/** `on<type>` properties backed by listeners, so their order relative to others is the spec's. */
function defineHandlers(proto: object, types: readonly string[]): void {
  for (const type of types) {
    const key = Symbol(type)
    Object.defineProperty(proto, `on${type}`, {
      configurable: true,
      enumerable: true,
      get(this: Record<symbol, { handler: unknown } | undefined>) {
        return this[key]?.handler ?? null
      },
      set(this: EventTarget & Record<symbol, { handler: unknown; listener: EventListener } | undefined>, handler: unknown) {
        const previous = this[key]
        if (previous) this.removeEventListener(type, previous.listener)
        if (typeof handler !== 'function') {
          this[key] = undefined
          return
        }
        const listener: EventListener = event => (handler as EventListener).call(this, event)
        this[key] = { handler, listener }
        this.addEventListener(type, listener)
      },
    })
  }
}

class UploadFacade extends EventTarget {}
defineHandlers(UploadFacade.prototype, UPLOAD_EVENTS)

/**
 * Returns a class to put in place of `XMLHttpRequest`. Unmanaged requests (out of scope,
 * synchronous, or while signed out) are passed through to a real XHR untouched.
 */
export function createXhrClass(Original: XhrClass, gate: Gate, baseURL: () => string | undefined): XhrClass {
  class RotorXMLHttpRequest extends EventTarget {
    static readonly UNSENT = 0
    static readonly OPENED = 1
    static readonly HEADERS_RECEIVED = 2
    static readonly LOADING = 3
    static readonly DONE = 4
    readonly UNSENT = 0
    readonly OPENED = 1
    readonly HEADERS_RECEIVED = 2
    readonly LOADING = 3
    readonly DONE = 4

    readonly upload = new UploadFacade() as unknown as XMLHttpRequestUpload
    #inner: XMLHttpRequest | undefined
    #open: { method: string; url: string; async: boolean; user: string | null | undefined; password: string | null | undefined } | undefined
    #headers: Array<[string, string]> = []
    #body: Document | XMLHttpRequestBodyInit | null = null
    #mime: string | undefined
    #responseType: XMLHttpRequestResponseType = ''
    #timeout = 0
    #withCredentials = false
    #managed = false
    /** Events of the current attempt are withheld (it was answered 401 and will be replayed). */
    #silenced = false
    #replayed = false
    /** What the caller sees while no attempt is visible (waiting, or a silenced attempt). */
    #shownState = 0
    #failed = false
    #aborted = false
    #sent = false

    get readyState(): number {
      return this.#visibleInner()?.readyState ?? this.#shownState
    }
    get status(): number {
      return this.#visibleInner()?.status ?? 0
    }
    get statusText(): string {
      return this.#visibleInner()?.statusText ?? ''
    }
    get response(): unknown {
      const inner = this.#visibleInner()
      if (inner) return inner.response
      return this.#responseType === '' || this.#responseType === 'text' ? '' : null
    }
    get responseText(): string {
      return this.#visibleInner()?.responseText ?? ''
    }
    get responseXML(): Document | null {
      return this.#visibleInner()?.responseXML ?? null
    }
    get responseURL(): string {
      return this.#visibleInner()?.responseURL ?? ''
    }
    get responseType(): XMLHttpRequestResponseType {
      return this.#responseType
    }
    set responseType(value: XMLHttpRequestResponseType) {
      this.#responseType = value
      if (this.#inner) this.#inner.responseType = value
    }
    get timeout(): number {
      return this.#timeout
    }
    set timeout(value: number) {
      this.#timeout = value
      if (this.#inner) this.#inner.timeout = value
    }
    get withCredentials(): boolean {
      return this.#withCredentials
    }
    set withCredentials(value: boolean) {
      this.#withCredentials = value
      if (this.#inner) this.#inner.withCredentials = value
    }

    open(method: string, url: string | URL, async = true, user?: string | null, password?: string | null): void {
      this.#open = { method, url: String(url), async, user, password }
      this.#headers = []
      this.#body = null
      this.#silenced = false
      this.#replayed = false
      this.#failed = false
      this.#aborted = false
      this.#sent = false
      this.#inner?.abort()
      this.#inner = undefined
      let parsed: URL | undefined
      try {
        parsed = new URL(String(url), baseURL())
      } catch {
        parsed = undefined
      }
      // A synchronous XHR cannot wait for a rotation; it goes out as it is.
      this.#managed = async !== false && parsed !== undefined && gate.manages(parsed)
      this.#shownState = 1
      this.#emit(new Event('readystatechange'))
    }

    setRequestHeader(name: string, value: string): void {
      if (!this.#open || this.#sent) throw new DOMException("Failed to execute 'setRequestHeader': the object's state must be OPENED.", 'InvalidStateError')
      this.#headers.push([name, value])
    }

    overrideMimeType(mime: string): void {
      this.#mime = mime
    }

    getResponseHeader(name: string): string | null {
      return this.#visibleInner()?.getResponseHeader(name) ?? null
    }

    getAllResponseHeaders(): string {
      return this.#visibleInner()?.getAllResponseHeaders() ?? ''
    }

    send(body: Document | XMLHttpRequestBodyInit | null = null): void {
      if (!this.#open || this.#sent) throw new DOMException("Failed to execute 'send': the object's state must be OPENED.", 'InvalidStateError')
      this.#sent = true
      this.#body = body
      if (!this.#managed || gate.ready()) {
        this.#attempt()
        return
      }
      // Held for the rotation in flight; the caller sees a request that has started.
      this.#emit(new ProgressEvent('loadstart'))
      gate.wait().then(
        () => {
          if (!this.#aborted) this.#attempt(true)
        },
        () => this.#failAsNetworkError(),
      )
    }

    abort(): void {
      this.#aborted = true
      const inner = this.#inner
      if (inner && !this.#silenced && inner.readyState !== 4) {
        inner.abort()
        return
      }
      inner?.abort()
      // Waiting (queued or between attempts): end it the way a native abort does.
      if (this.#sent && !this.#failed) {
        this.#inner = undefined
        this.#shownState = 4
        this.#emit(new Event('readystatechange'))
        this.#emit(new ProgressEvent('abort'))
        this.#emit(new ProgressEvent('loadend'))
      }
      this.#shownState = 0
      this.#sent = false
    }

    #visibleInner(): XMLHttpRequest | undefined {
      return this.#silenced ? undefined : this.#inner
    }

    #emit(event: Event, upload = false): void {
      ;(upload ? (this.upload as unknown as EventTarget) : this).dispatchEvent(event)
    }

    /** One real request. `skipLoadstart`: the caller already saw `loadstart` while it waited. */
    #attempt(skipLoadstart = false): void {
      const open = this.#open
      if (!open) return
      const inner = new Original()
      this.#inner = inner
      this.#silenced = false
      const generation = gate.generation()
      inner.open(open.method, open.url, open.async, open.user ?? null, open.password ?? null)
      inner.responseType = this.#responseType
      if (open.async) inner.timeout = this.#timeout
      if (this.#mime !== undefined) inner.overrideMimeType(this.#mime)
      const authorization = this.#managed ? gate.authorization() : undefined
      for (const [name, value] of this.#headers) {
        // The session's token replaces whatever the caller set (a stale or forged one).
        if (authorization !== undefined && name.toLowerCase() === 'authorization') continue
        inner.setRequestHeader(name, value)
      }
      if (authorization !== undefined) inner.setRequestHeader('Authorization', authorization)
      inner.withCredentials = this.#managed && gate.cookies() ? true : this.#withCredentials

      const mayReplay = this.#managed && !this.#replayed
      let firstLoadstart = skipLoadstart
      for (const type of EVENTS) {
        inner.addEventListener(type, event => {
          if (inner !== this.#inner) return
          if (type === 'readystatechange' && inner.readyState === 1) return // our open() already said so
          if (type === 'loadstart' && firstLoadstart) {
            firstLoadstart = false
            return
          }
          if (mayReplay && !this.#silenced && inner.readyState >= 2 && inner.status === 401) {
            // From here on this attempt is invisible: no listener of any kind sees the 401.
            this.#silenced = true
            this.#shownState = 1
          }
          if (this.#silenced) {
            if (type === 'loadend') this.#recover(generation)
            return
          }
          this.#emit(copy(event))
        })
      }
      for (const type of UPLOAD_EVENTS) {
        inner.upload.addEventListener(type, event => {
          if (inner === this.#inner && !this.#silenced) this.#emit(copy(event), true)
        })
      }
      inner.send(this.#body as XMLHttpRequestBodyInit | null)
    }

    #recover(generation: number): void {
      this.#replayed = true
      gate.recover(generation).then(
        () => {
          if (!this.#aborted) this.#attempt(true)
        },
        () => this.#failAsNetworkError(),
      )
    }

    /** The session ended while this request waited: fail it as a network error does. */
    #failAsNetworkError(): void {
      if (this.#aborted) return
      this.#failed = true
      this.#inner = undefined
      this.#silenced = false
      this.#shownState = 4
      this.#emit(new Event('readystatechange'))
      this.#emit(new ProgressEvent('error'))
      this.#emit(new ProgressEvent('loadend'))
    }
  }
  defineHandlers(RotorXMLHttpRequest.prototype, EVENTS)
  return RotorXMLHttpRequest as unknown as XhrClass
}
