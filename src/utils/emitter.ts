/** A typed emitter of named events: one `Listeners` set per event name, `on()` returning its own unsubscribe (the nanoevents shape). */
import { Listeners } from './listeners.js'

export class Emitter<Events extends Record<string, unknown>> {
  readonly #byEvent = new Map<keyof Events, Listeners<never>>()

  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    let listeners = this.#byEvent.get(event) as Listeners<Events[K]> | undefined
    if (!listeners) this.#byEvent.set(event, (listeners = new Listeners<Events[K]>()) as unknown as Listeners<never>)
    return listeners.add(listener)
  }

  /** One throwing listener does not stop the others nor the session's own flow (see Listeners.emit). */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    ;(this.#byEvent.get(event) as Listeners<Events[K]> | undefined)?.emit(payload)
  }

  clear(): void {
    this.#byEvent.clear()
  }
}
