/** A set of listeners: add returns its own undo, emit survives a listener that throws or unsubscribes. */

export class Listeners<T> {
  readonly #set = new Set<(value: T) => void>()

  /** Adds `listener`; the returned function removes it (idempotent). */
  add(listener: (value: T) => void): () => void {
    this.#set.add(listener)
    return () => void this.#set.delete(listener)
  }

  /**
   * Calls every listener with `value`, on a copy (a listener may unsubscribe itself). One that
   * throws does not stop the others nor the caller: its error is rethrown in a microtask.
   */
  emit(value: T): void {
    for (const listener of [...this.#set]) {
      try {
        listener(value)
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }

  get size(): number {
    return this.#set.size
  }

  clear(): void {
    this.#set.clear()
  }
}
