/** The XHR facade's event plumbing: the event types it re-dispatches, their copies, and the `on…` handler properties. */

export const EVENTS = ['readystatechange', 'loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend'] as const
export const UPLOAD_EVENTS = ['loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend'] as const

/** A copy of an event for re-dispatch on the facade (events cannot be dispatched twice). */
export function copy(event: Event): Event {
  if (typeof ProgressEvent !== 'undefined' && event instanceof ProgressEvent) {
    return new ProgressEvent(event.type, { lengthComputable: event.lengthComputable, loaded: event.loaded, total: event.total })
  }
  return new Event(event.type)
}

/** `on<type>` properties backed by listeners, so their order relative to others is the spec's. */
export function defineHandlers(proto: object, types: readonly string[]): void {
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

/**
 * Counts its listeners: a browser forces a CORS preflight on a cross-origin XHR that has
 * upload listeners, so the real XHR gets upload listeners only when the caller has some.
 */
export class UploadFacade extends EventTarget {
  listeners = 0
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void {
    if (listener) this.listeners++
    super.addEventListener(type, listener, options)
  }
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void {
    if (listener) this.listeners = Math.max(0, this.listeners - 1)
    super.removeEventListener(type, listener, options)
  }
}
defineHandlers(UploadFacade.prototype, UPLOAD_EVENTS)
