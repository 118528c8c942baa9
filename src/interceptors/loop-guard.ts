/** Recognises a request that the session's own underlying fetch handed back to the session, and fails it instead of looping forever. */
import { FetchLoopError } from '../errors.js'

/**
 * What a session's underlying fetch gets instead of the fetch itself. `fetch: cookieFetch()`
 * reading `globalThis.fetch` after `install()`, or `fetch: (...a) => fetch(...a)`, sends every
 * request from the session back into the session: nothing reaches the network, the loop runs
 * on microtasks (so no timer, `queueTimeout` included, ever fires) and takes the CPU and memory.
 *
 * Two marks, because wrappers differ. The session's own calls (managed requests, refresh,
 * logout), whose init the session builds anyway, carry this session's symbol in it: fetch-cookie
 * and most wrappers spread the init, so it survives an asynchronous hop. And a flag is up while
 * the underlying fetch runs synchronously, which also covers requests passed through untouched
 * (out of scope, opted out): those keep the caller's very init object, so they carry no mark.
 * Each session has its own symbol: one session installed over another legitimately passes
 * requests through the other, and that is not a loop.
 */
export function createLoopGuard(underlying: () => typeof fetch): {
  /** For the session's own calls (refresh, logout): a marked copy of the init goes. */
  fetch: typeof fetch
  /** For a managed request, whose init the session has just built: marked in place, no second copy. */
  sendOwn: (input: RequestInfo | URL, init: RequestInit) => Promise<Response>
  /** For requests passed through untouched: the caller's init as it is. */
  passThrough: typeof fetch
  looped: (init: RequestInit | undefined) => boolean
} {
  const mark = Symbol('rotor-auth.via-session')
  let calling = false
  const call = (input: RequestInfo | URL, init: RequestInit | undefined): Promise<Response> => {
    const send = underlying()
    calling = true
    try {
      return send(input, init)
    } finally {
      calling = false
    }
  }
  return {
    fetch: (input, init) => call(input, { ...init, [mark]: true } as RequestInit),
    sendOwn: (input, init) => call(input, Object.assign(init, { [mark]: true })),
    passThrough: call,
    looped: init => calling || (init as Record<symbol, unknown> | undefined)?.[mark] === true,
  }
}

/** The error a looped request rejects with: it names the loop and the fix (the `fetch` option in docs/api.md says more). */
export function fetchLoopError(): FetchLoopError {
  return new FetchLoopError(
    "rotor-auth: the `fetch` option sent the request back into the session (a loop). Pass a fetch that doesn't reach session.install()'s globalThis.fetch: capture globalThis.fetch before install()",
  )
}
