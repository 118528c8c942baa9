/** setTimeout's delay is a signed 32-bit int; a longer delay fires at once. */
export const MAX_TIMEOUT = 2 ** 31 - 1

export type TimerHandle = ReturnType<typeof setTimeout>

/**
 * Timers looked up on globalThis at call time, so fake timers installed after the session
 * was created still apply. In Node they are unref'ed: a session alone never keeps a job's
 * process alive.
 */
export function setTimer(fn: () => void, ms: number): TimerHandle {
  const handle = globalThis.setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMEOUT))
  ;(handle as { unref?: () => void }).unref?.()
  return handle
}

export function clearTimer(handle: TimerHandle | undefined): void {
  if (handle !== undefined) globalThis.clearTimeout(handle)
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimer(handle)
      reject(signal?.reason)
    }
    const handle = setTimer(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
