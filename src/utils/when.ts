/** Small promise helpers: run on a value that may be a promise, and wait for one without caring how it ended. */

/** Runs `fn` on a value that may or may not be a promise, synchronously when it is not. */
export function when<T, R>(value: T | Promise<T>, fn: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(fn) : fn(value)
}

/** `promise`, never rejecting: what waits on it only needs to know it is over. */
export function settled(promise: Promise<unknown>): Promise<void> {
  return promise.then(
    () => undefined,
    () => undefined,
  )
}
