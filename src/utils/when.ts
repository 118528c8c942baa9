/** Runs `fn` on a value that may or may not be a promise, synchronously when it is not. */
export function when<T, R>(value: T | Promise<T>, fn: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(fn) : fn(value)
}
