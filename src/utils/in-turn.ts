/** Runs sections one after another (each once the one before settled), synchronously when none is pending. */
export class InTurn {
  /** The last section queued, settled either way; undefined once nothing is pending. */
  #pending: Promise<void> | undefined

  /** Runs `fn` now when nothing is pending (a synchronous result stays synchronous), else after what is. */
  run<R>(fn: () => R | Promise<R>): R | Promise<R> {
    const previous = this.#pending
    const result = previous ? previous.then(fn) : fn()
    if (result instanceof Promise) {
      const done = result.then(
        () => undefined,
        () => undefined,
      )
      this.#pending = done
      void done.then(() => {
        if (this.#pending === done) this.#pending = undefined
      })
    }
    return result
  }
}
