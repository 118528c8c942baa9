/** The session's fetch: scope → gate → send → at most one replay, in that order, each step calling only later ones. */
import type { Gate } from '../core/gate.js'
import type { DebugSink, Platform } from '../platform/types.js'
import type { XhrProof } from '../dpop/xhr.js'
import type { SessionRequestInit } from '../types.js'
import { fetchTarget } from '../utils/scope.js'
import { fetchLoopError } from './loop-guard.js'
import { optedOut } from './opt-out.js'

/** What an interceptor (fetch or XHR) needs from the session; both go through the same gate. */
export type Interception = {
  /** The underlying fetch for a request that is not the session's: its init goes as it is. */
  passThrough: typeof fetch
  /** The underlying fetch for a managed request, with the init `authorize` built for it. */
  sendOwn: (input: RequestInfo | URL, init: RequestInit) => Promise<Response>
  /** The request came back from the session's own underlying fetch (see loop-guard.ts). */
  looped: (init: RequestInit | undefined) => boolean
  /**
   * The target's origin when the request is the session's (in scope, and not the refresh or
   * logout endpoint), else undefined. `target` is exactly what fetch or XHR will be given.
   */
  claim: (target: string | Request) => string | undefined
  /** Whether the session is managing requests at all (cheaper than `claim`, checked first). */
  managing: () => boolean
  gate: Gate
  /** The `Authorization` value (bearer transport), or undefined (cookie transport). */
  authorization: () => string | undefined
  /** Cookie transport: managed requests go with credentials. */
  cookies: boolean
  /**
   * Cookie transport: the narrowest credentials mode that carries the session's cookies to
   * `origin`: `same-origin` for the page's own origin (a redirect to another origin, another port
   * of the same host included, then gets no cookies), `include` only across origins.
   */
  credentials: (origin: string) => RequestCredentials
  /** The generation whose AT a request is sent with (a 401 asks for a newer one). */
  generation: () => number
  active: () => boolean
  /** The session's clocks and timers (the XHR facade's `timeout` runs on them). */
  time: Pick<Platform, 'now' | 'after'> & { monotonic?: Platform['monotonic'] }
  /** Records a decision in the session's trace (src/trace/kinds.ts). */
  trace: DebugSink
  /** With `dpop`: the session's DPoP, which signs each XHR attempt, Authorization included (src/dpop/xhr.ts). */
  dpop?: () => Promise<{ xhr(method: string, url: string, authorization: string): Promise<XhrProof> }>
}

/**
 * Body types fetch can send twice. A stream (web ReadableStream, Node Readable, an async
 * iterable) is consumed by the first attempt: its request is never replayed, the caller
 * gets the 401 instead of a second request with an empty body.
 */
export function replayableBody(body: BodyInit | null | undefined): boolean {
  if (body === undefined || body === null || typeof body === 'string') return true
  return (
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    (typeof FormData !== 'undefined' && body instanceof FormData)
  )
}

/** `input instanceof Request`, with the common string answered without reading the global. */
function isRequest(input: RequestInfo | URL): input is Request {
  return typeof input !== 'string' && input instanceof Request
}

/**
 * A trace entry's `method`: init's, else the Request's, else GET. Callers build each entry's
 * fields as one literal in their final order: 100,000 requests parked or released at once each
 * pay for one object, not one grown field by field.
 */
function methodOf(input: RequestInfo | URL, init: RequestInit | undefined): string {
  return init?.method ?? (isRequest(input) ? input.method : 'GET')
}

/** A trace entry's `url` (the recorder drops the query). */
function urlOf(input: RequestInfo | URL): string {
  return isRequest(input) ? input.url : String(input)
}

/**
 * `{ ...init }` with `name` set to `value`. Node 20's V8 adds a property to a spread copy on its
 * slow path: `{ ...init, credentials }` costs ~1 µs where a copy made by Object.assign and then
 * extended costs ~0.06 µs (bench/RESULTS.md, overhead). Own enumerable properties are copied
 * either way; an init without one (most calls) gets a literal.
 */
function withInit(init: RequestInit | undefined, name: 'credentials' | 'headers', value: RequestCredentials | HeadersInit): RequestInit {
  const copy = (init === undefined ? {} : Object.assign({}, init)) as Record<string, unknown>
  copy[name] = value
  return copy
}

function signalOf(input: RequestInfo | URL, init: RequestInit | undefined): AbortSignal | undefined {
  return init?.signal ?? (isRequest(input) ? input.signal : undefined)
}

function authorize(input: RequestInfo | URL, origin: string, init: RequestInit | undefined, interception: Interception): RequestInit {
  const authorization = interception.authorization()
  if (authorization === undefined) return withInit(init, 'credentials', interception.credentials(origin))
  const given = init?.headers
  if (!isRequest(input) && (given === undefined || (typeof given === 'object' && given.constructor === Object))) {
    // Plain object: cheaper than a Headers. Any casing of a caller's own Authorization goes,
    // or fetch would join the two values into one header. Own keys only, as fetch reads a
    // record: a name inherited from a prototype is not sent.
    const headers: Record<string, string> = {}
    if (given !== undefined) for (const name of Object.keys(given)) if (name.toLowerCase() !== 'authorization') headers[name] = (given as Record<string, string>)[name]!
    headers['authorization'] = authorization
    return withInit(init, 'headers', headers)
  }
  const headers = new Headers(given ?? (isRequest(input) ? input.headers : undefined))
  headers.set('authorization', authorization)
  return withInit(init, 'headers', headers)
}

type Settle<T> = (value: T | PromiseLike<T>) => void

/**
 * How many requests parked, and how many released, in one task are traced one by one; the rest
 * are counted in one more entry of the kind (`count`, no request) as the task ends. A burst of
 * 100,000 would otherwise fill the trace's ring with itself, pushing out the decisions that
 * explain it, and each entry cost ~0.6 µs of the release (bench/RESULTS.md, burst).
 */
const ONE_BY_ONE = 20

/** Counts one task's entries of a kind: true while they are still traced one by one. */
function oneByOne(trace: DebugSink, kind: 'request-parked' | 'request-released'): () => boolean {
  let n = 0
  const end = () => {
    if (n > ONE_BY_ONE) trace(kind, { count: n - ONE_BY_ONE })
    n = 0
  }
  return () => {
    if (n++ === 0) void Promise.resolve().then(end)
    return n <= ONE_BY_ONE
  }
}

/** A request waiting at the gate: all `send` needs once it may go. */
type Queued = { input: string | Request; origin: string; init: RequestInit | undefined; at: number }

/**
 * 4. A 401: rotate unless a newer generation already superseded the token it carried, then
 * send it once more. The replay goes straight to the network: never a second replay.
 */
async function replay(
  interception: Interception,
  first: Response,
  input: RequestInfo | URL,
  origin: string,
  init: RequestInit | undefined,
  generation: number,
): Promise<Response> {
  if (!interception.active()) return first
  void first.body?.cancel().catch(() => undefined)
  interception.trace('request-replayed', { method: methodOf(input, init), url: urlOf(input) })
  await interception.gate.wait({ stale: generation, signal: signalOf(input, init) })
  return interception.sendOwn(input, authorize(input, origin, init, interception))
}

export function createFetch(interception: Interception): typeof fetch {
  const [parkedOneByOne, releasedOneByOne] = [oneByOne(interception.trace, 'request-parked'), oneByOne(interception.trace, 'request-released')]
  return function rotorFetch(given: RequestInfo | URL, init?: SessionRequestInit): Promise<Response> {
    // fetch never throws at the call (bad headers, a bad URL…): it rejects, and `fetch(u, i).catch(h)` relies on it.
    try {
      return route(given, init)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  function route(given: RequestInfo | URL, init: SessionRequestInit | undefined): Promise<Response> {
    // Back from our own underlying fetch: sending it on would loop forever, off the network.
    if (interception.looped(init)) return Promise.reject(fetchLoopError())
    // 0. Opted out (rtrIgnore, X-Rotor-Ignore): out as it is, without the flag.
    const out = optedOut(given, init)
    if (out) return interception.passThrough(...out)
    // 1. Scope: everything that is not the session's passes through untouched.
    if (!interception.managing()) return interception.passThrough(given, init)
    // Judged on, and sent to, the one string fetch would use.
    const input = fetchTarget(given)
    const origin = interception.claim(input)
    if (origin === undefined) return interception.passThrough(input, init)
    // 2. Gate. Hot path: a usable AT and nothing in flight → straight out, no extra await.
    if (interception.gate.ready()) return send(input, origin, init)
    return queue(input, origin, init)
  }

  /** Waits at the gate; the gate hands the request back to `release` once it may go. */
  function queue(input: string | Request, origin: string, init: RequestInit | undefined): Promise<Response> {
    if (parkedOneByOne()) interception.trace('request-parked', { method: methodOf(input, init), url: urlOf(input), why: interception.active() ? 'rotation' : 'not-started' })
    return interception.gate.wait({ signal: signalOf(input, init) }, release, { input, origin, init, at: interception.time.now() })
  }

  function release(r: Queued, resolve: Settle<Response>, reject: (reason: unknown) => void): void {
    if (releasedOneByOne()) interception.trace('request-released', { method: methodOf(r.input, r.init), url: urlOf(r.input), waitedMs: interception.time.now() - r.at })
    send(r.input, r.origin, r.init, resolve, reject)
  }

  /**
   * 3. Send, keeping what a replay needs. The hot path returns the outcome; a request released
   * by the gate hands it to the caller's promise (`resolve`, `reject`) directly, so each one
   * costs one reaction instead of a promise that another promise then adopts.
   */
  function send(input: RequestInfo | URL, origin: string, init: RequestInit | undefined): Promise<Response>
  function send(input: RequestInfo | URL, origin: string, init: RequestInit | undefined, resolve: Settle<Response>, reject: (reason: unknown) => void): void
  function send(
    input: RequestInfo | URL,
    origin: string,
    init: RequestInit | undefined,
    resolve?: Settle<Response>,
    reject?: (reason: unknown) => void,
  ): Promise<Response> | void {
    const generation = interception.generation()
    let replayInput = input
    let canReplay = replayableBody(init?.body)
    if (canReplay && isRequest(input) && input.body !== null && init?.body === undefined) {
      // The first attempt consumes the Request's body stream; keep a copy for the replay.
      try {
        replayInput = input.clone()
      } catch {
        canReplay = false
      }
    }
    let sent: Promise<Response>
    try {
      sent = interception.sendOwn(input, authorize(input, origin, init, interception))
    } catch (error) {
      // Released by the gate, nobody is up the stack to turn a throw into a rejection.
      if (reject === undefined) throw error
      return reject(error)
    }
    if (resolve === undefined) {
      if (!canReplay) return sent
      return sent.then(response => (response.status === 401 ? replay(interception, response, replayInput, origin, init, generation) : response))
    }
    if (!canReplay) return resolve(sent)
    sent.then(response => resolve(response.status === 401 ? replay(interception, response, replayInput, origin, init, generation) : response), reject)
  }
}
