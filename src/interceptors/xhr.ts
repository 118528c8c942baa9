/**
 * The XMLHttpRequest facade, over the same gate as fetch.
 *
 * Uploads with progress (FOLIO's Data Import among them) and axios' default browser adapter
 * use XHR, not fetch. stripes-core wraps XHR only half-way:
 * it hooks `onreadystatechange` and misses `load`/`addEventListener` listeners, so a caller
 * listening there still saw the first 401.
 *
 * A managed XHR here is a facade: every attempt is a real XHR of the original class, whose
 * events the facade re-dispatches to the caller's listeners and `on…` handlers. The attempt
 * answered 401 is silenced from its headers on (no listener of any kind sees it), the session
 * rotates (unless a newer generation superseded the token it carried), and the request is
 * sent once more with the same method, headers and body.
 */

import type { Timer } from '../platform/types.js'
import type { XhrProof } from '../dpop/xhr.js'
import type { Interception } from './fetch.js'
import { IGNORE_HEADER } from './opt-out.js'
import { copy, defineHandlers, EVENTS, UploadFacade, UPLOAD_EVENTS } from './xhr-events.js'

type XhrClass = typeof XMLHttpRequest

/**
 * The facade itself: one per request, bound to the original class and the session by createXhrClass.
 */
class FacadeRequest extends EventTarget {
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

  /** The class whose real requests carry each attempt. */
  readonly #Original: XhrClass
  readonly #interception: Interception

  constructor(Original: XhrClass, interception: Interception) {
    super()
    this.#Original = Original
    this.#interception = interception
  }

  readonly #upload = new UploadFacade()
  get upload(): XMLHttpRequestUpload {
    return this.#upload as unknown as XMLHttpRequestUpload
  }
  #inner: XMLHttpRequest | undefined
  #open: { method: string; url: string; async: boolean; user: string | null | undefined; password: string | null | undefined } | undefined
  #headers: Array<[string, string]> = []
  #body: Document | XMLHttpRequestBodyInit | null = null
  #mime: string | undefined
  #responseType: XMLHttpRequestResponseType = ''
  #timeout = 0
  #withCredentials = false
  #managed = false
  /** The origin open() pointed at, resolved as the browser resolves it (managed requests only). */
  #origin: string | undefined
  /** Events of the current attempt are withheld (it was answered 401 and will be replayed). */
  #silenced = false
  #replayed = false
  /** What the caller sees while no attempt is visible (waiting, or a silenced attempt). */
  #shownState = 0
  #sent = false
  /**
   * Bumped by open() and abort() and whenever the request ends: a rotation that settles
   * later for an older request must not send (or fail) the current one.
   */
  #seq = 0
  /** The caller's `timeout` runs from send(), across waiting and a replay (native budget). */
  #deadline = 0
  #timer: Timer | undefined

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
    const shownBefore = this.readyState
    this.#end()
    // Detach first: the old attempt's abort events are not the caller's to see.
    const previous = this.#inner
    this.#inner = undefined
    previous?.abort()
    this.#open = { method, url: String(url), async, user, password }
    this.#headers = []
    this.#body = null
    this.#silenced = false
    this.#replayed = false
    this.#sent = false
    // A synchronous XHR cannot wait for a rotation; it goes out as it is. XHR resolves a
    // relative URL against the document's base URL, as fetch does, so one claim serves both.
    this.#origin = async !== false && this.#interception.managing() ? this.#interception.claim(String(url)) : undefined
    this.#managed = this.#origin !== undefined
    this.#shownState = 1
    if (shownBefore !== 1) this.#emit(new Event('readystatechange'))
  }

  setRequestHeader(name: string, value: string): void {
    if (!this.#open || this.#sent) throw new DOMException("Failed to execute 'setRequestHeader': the object's state must be OPENED.", 'InvalidStateError')
    // The opt-out: this request goes out untouched, and the header stays here.
    if (name.toLowerCase() === IGNORE_HEADER) this.#managed = false
    else this.#headers.push([name, value])
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
    if (this.#open.async && this.#timeout > 0) {
      this.#deadline = this.#elapsed() + this.#timeout
      const seq = this.#seq
      // keepAlive: a Node process must not exit under a request that is still counting down.
      this.#timer = this.#interception.time.after(
        this.#timeout,
        () => {
          // Only while no attempt is on the wire: a real XHR times itself out.
          if (seq === this.#seq && (this.#inner === undefined || this.#silenced)) this.#finish('timeout')
        },
        true,
      )
    }
    if (!this.#managed || this.#interception.gate.ready()) {
      this.#attempt()
      return
    }
    // Held for the rotation in flight; the caller sees a request that has started.
    this.#emit(new ProgressEvent('loadstart'))
    this.#after(this.#interception.gate.wait())
  }

  abort(): void {
    const inner = this.#inner
    if (inner && !this.#silenced) {
      // On the wire or done: the real XHR does what a native abort does (nothing, if done).
      this.#end()
      inner.abort()
      return
    }
    // Waiting (queued, or between a 401 and its replay): end it as a native abort does.
    if (this.#sent && this.#shownState !== 4) this.#finish('abort')
    else this.#end()
    this.#shownState = 0
    this.#sent = false
  }

  /** The clock `timeout` counts on: monotonic where there is one, so a wall clock set back mid-request does not stretch it. */
  #elapsed(): number {
    const { monotonic, now } = this.#interception.time
    return (monotonic ?? now)()
  }

  #visibleInner(): XMLHttpRequest | undefined {
    return this.#silenced ? undefined : this.#inner
  }

  #emit(event: Event, upload = false): void {
    ;(upload ? (this.upload as unknown as EventTarget) : this).dispatchEvent(event)
  }

  /** One real request. `skipLoadstart`: the caller already saw `loadstart` while it waited; `resent`: a DPoP proof's one retry. */
  #attempt(skipLoadstart = false, resent = false): void {
    const open = this.#open
    if (!open) return
    const inner = new this.#Original()
    const generation = this.#interception.generation()
    inner.open(open.method, open.url, open.async, open.user ?? null, open.password ?? null)
    // Setting responseType at all throws on a synchronous XHR in a window.
    if (this.#responseType !== '') inner.responseType = this.#responseType
    if (open.async && this.#timeout > 0) inner.timeout = Math.max(1, this.#deadline - this.#elapsed())
    if (this.#mime !== undefined) inner.overrideMimeType(this.#mime)
    const authorization = this.#managed ? this.#interception.authorization() : undefined
    // DPoP (src/dpop/xhr.ts): each attempt is signed, Authorization included, before it goes.
    const signing = authorization !== undefined ? this.#interception.dpop?.().then(d => d.xhr(open.method, open.url, authorization)) : undefined
    let proof: XhrProof | undefined
    for (const [name, value] of this.#headers) {
      // The session's token replaces whatever the caller set (a stale or forged one).
      if (authorization !== undefined && name.toLowerCase() === 'authorization') continue
      inner.setRequestHeader(name, value)
    }
    if (authorization !== undefined && !signing) inner.setRequestHeader('Authorization', authorization)
    // Same-origin requests carry cookies anyway; `withCredentials` would also carry them on
    // a redirect to another origin, so it is set only when the scope is across origins.
    inner.withCredentials = this.#managed && this.#interception.cookies ? this.#interception.credentials(this.#origin!) === 'include' : this.#withCredentials

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
        // A refused proof (a new nonce) goes once more at once: neither a rotation nor the replay.
        const again = !resent && proof?.refused(inner) === true
        if ((mayReplay || again) && !this.#silenced && inner.readyState >= 2 && inner.status === 401) {
          // From here on this attempt is invisible: no listener of any kind sees the 401.
          this.#silenced = true
          this.#shownState = 1
        }
        if (this.#silenced) {
          if (type === 'loadend' && again) this.#attempt(true, true)
          else if (type === 'loadend') {
            this.#replayed = true
            this.#after(this.#interception.gate.wait({ stale: generation }))
          }
          return
        }
        if (type === 'loadend') this.#end()
        this.#emit(copy(event))
      })
    }
    // The caller saw this request's upload once already if this is the replay.
    if (!this.#replayed && this.#upload.listeners > 0) {
      for (const type of UPLOAD_EVENTS) {
        inner.upload.addEventListener(type, event => {
          if (inner === this.#inner && !this.#silenced) this.#emit(copy(event), true)
        })
      }
    }
    const seq = this.#seq
    // Until it goes (signed, with DPoP), the request waits as a queued one does: abort and timeout work.
    const go = (signed?: XhrProof) => {
      if (seq !== this.#seq) return
      this.#inner = inner
      this.#silenced = false
      proof = signed
      for (const [name, value] of signed?.headers ?? []) inner.setRequestHeader(name, value)
      inner.send(this.#body as XMLHttpRequestBodyInit | null)
    }
    if (signing) signing.then(go, () => seq === this.#seq && this.#finish('error'))
    else go()
  }

  /** Sends (again) once the session is ready, unless this request moved on meanwhile. */
  #after(ready: Promise<void>): void {
    const seq = this.#seq
    ready.then(
      () => {
        if (seq === this.#seq) this.#attempt(true)
      },
      // The session ended while this request waited: fail it as a network error does.
      () => {
        if (seq === this.#seq) this.#finish('error')
      },
    )
  }

  /** This request is over: nothing pending may act on it any more. */
  #end(): void {
    this.#seq++
    this.#timer?.cancel()
    this.#timer = undefined
  }

  /** Ends a request that has no visible attempt, with the events a native XHR fires. */
  #finish(type: 'abort' | 'error' | 'timeout'): void {
    this.#end()
    const inner = this.#inner
    this.#inner = undefined
    inner?.abort()
    this.#silenced = false
    this.#shownState = 4
    this.#emit(new Event('readystatechange'))
    this.#emit(new ProgressEvent(type))
    this.#emit(new ProgressEvent('loadend'))
  }
}
defineHandlers(FacadeRequest.prototype, EVENTS)

/**
 * Returns a class to put in place of `XMLHttpRequest`. Unmanaged requests (out of scope,
 * synchronous, or while signed out) are passed through to a real XHR untouched.
 */
export function createXhrClass(Original: XhrClass, interception: Interception): XhrClass {
  // Constructed by the EventTarget of the realm it is installed in, looked up now (a test's DOM
  // stands in for a page's): the methods come from the original's prototype chain below, and
  // a DOM's EventTarget methods accept only objects its own constructor made.
  if (Object.getPrototypeOf(FacadeRequest) !== EventTarget) Object.setPrototypeOf(FacadeRequest, EventTarget)
  class RotorXMLHttpRequest extends FacadeRequest {
    constructor() {
      super(Original, interception)
    }
  }
  // `xhr instanceof XMLHttpRequest` holds for code that kept the original class: the facade's
  // methods sit on a prototype whose own prototype is the original's.
  Object.setPrototypeOf(RotorXMLHttpRequest.prototype, Object.create(Original.prototype, Object.getOwnPropertyDescriptors(FacadeRequest.prototype)))
  return RotorXMLHttpRequest as unknown as XhrClass
}
