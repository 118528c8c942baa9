/**
 * The one module tests take their helpers from: clocks, waiting for a condition instead of
 * sleeping, an in-memory Storage, counting the BroadcastChannels and timers a session opens
 * and leaves open, and sentinels that prove a message or an answer did (or did not) arrive. The reference-server
 * environment and the tab factory live in session-env.ts and are re-exported here.
 *
 * The timers are captured when this module loads, before a test installs fake timers: a
 * waitFor() in a fake-timer test still polls in real time while the HTTP round trips finish.
 */
import { randomUUID } from 'node:crypto'
import { expect, vi } from 'vitest'

export * from './session-env.js'

const realSetTimeout = globalThis.setTimeout
const realSetImmediate = globalThis.setImmediate
const realNow = performance.now.bind(performance)

/** Real-time pause. For pacing a scenario (a user typing, traffic every N ms), never before an assertion: use waitFor. */
export const sleep = (ms: number) => new Promise<void>(resolve => realSetTimeout(resolve, ms))

/**
 * Resolves once `condition` neither throws nor returns `false`, polling every `interval` ms;
 * rejects after `timeout` ms with the condition's last error. Takes a predicate or an
 * assertion: `waitFor(() => n === 2)`, `waitFor(() => expect(n).toBe(2))`.
 *
 * Its own timers are not the ones countTimers() tracks, so a condition may count those. Under fake timers it polls in real time and, like vi.waitFor, advances the
 * fake clock by `interval` before each check (a faked server latency must elapse too).
 */
export async function waitFor(condition: () => unknown, { timeout = 5_000, interval = 5 } = {}): Promise<void> {
  const deadline = realNow() + timeout
  for (;;) {
    let failure: unknown
    if (vi.isFakeTimers()) vi.advanceTimersByTime(interval)
    try {
      if (condition() !== false) return
      failure = new Error(`waitFor: still false after ${timeout} ms: ${condition.toString()}`)
    } catch (error) {
      failure = error
    }
    if (realNow() >= deadline) throw failure
    await sleep(interval)
  }
}

/**
 * Lets every microtask chain already started run to its end: a few turns of the event loop,
 * no wall-clock time. Use it after the last thing a session could react to has been
 * delivered in memory (a buffered answer, see answeredFetch), to assert that it did not react.
 */
export async function drain(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>(resolve => realSetImmediate(resolve))
}

/** A clock the test moves by hand, shared by the server and the sessions. */
export function manualClock(start = Date.parse('2026-11-22T12:00:00Z')) {
  let t = start
  return {
    now: () => t,
    advance(ms: number) {
      t += ms
    },
  }
}

/**
 * A clock that flows with real time and can also jump: for rows where a timeout (real ms)
 * and a deadline on the session's clock must agree, and for reading real gaps off the
 * server's log (`server.log[i].at`) when the server shares it.
 */
export function flowingClock(start = Date.parse('2026-11-22T12:00:00Z')) {
  const t0 = realNow()
  let jumped = 0
  return {
    now: () => Math.floor(start + (realNow() - t0) + jumped),
    advance(ms: number) {
      jumped += ms
    },
  }
}

/** A Storage backed by a Map, so a test can look at what a session wrote. */
export function memoryStorage() {
  const map = new Map<string, string>()
  return {
    map,
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, v),
    removeItem: (k: string) => void map.delete(k),
    dump: () => [...map.entries()].map(([k, v]) => `${k}=${v}`).join('\n'),
  }
}

/**
 * Replaces `globalThis.BroadcastChannel` with a subclass that counts the channels constructed
 * and closed, until `restore()`. Install it before creating the sessions; it counts whatever
 * they construct, eagerly or lazily.
 */
export function countChannels() {
  const Original = globalThis.BroadcastChannel
  const live = new Set<BroadcastChannel>()
  let opened = 0
  let closed = 0
  class Counted extends Original {
    constructor(name: string) {
      super(name)
      opened++
      live.add(this)
    }
    override close(): void {
      if (live.delete(this)) closed++
      super.close()
    }
  }
  globalThis.BroadcastChannel = Counted
  return {
    get opened() {
      return opened
    },
    get closed() {
      return closed
    },
    restore() {
      globalThis.BroadcastChannel = Original
    },
  }
}

/**
 * Replaces `globalThis.setTimeout` and `clearTimeout` with versions that track the timers
 * created since, until `restore()`: `pending()` lists those neither fired nor cleared, by
 * where each was set. A session looks its timers up on globalThis when it sets them, so this
 * sees them; process.getActiveResourcesInfo() does not (Node leaves unref'ed timers out, and
 * a session unrefs every timer it sets). Timers Node sets for itself (undici's keep-alive
 * sockets) are not counted.
 */
export function countTimers() {
  const originalSet = globalThis.setTimeout
  const originalClear = globalThis.clearTimeout
  const live = new Map<unknown, string>()
  let created = 0
  const tracked = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle = originalSet(
      (...a: unknown[]) => {
        live.delete(handle)
        fn(...a)
      },
      ms,
      ...args,
    )
    const where = new Error('timer set here').stack?.split('\n').slice(2, 6).join('\n') ?? ''
    if (!/^\s*at .*\(node:/.test(where)) {
      created++
      live.set(handle, where)
    }
    return handle
  }) as typeof setTimeout
  globalThis.setTimeout = Object.assign(tracked, { __promisify__: originalSet.__promisify__ })
  globalThis.clearTimeout = ((handle: Parameters<typeof clearTimeout>[0]) => {
    live.delete(handle)
    originalClear(handle)
  }) as typeof clearTimeout
  return {
    get created() {
      return created
    },
    pending: () => [...live.values()],
    restore() {
      globalThis.setTimeout = originalSet
      globalThis.clearTimeout = originalClear
    },
  }
}

type Message = Record<string, unknown>
const isMessage = (data: unknown): data is Message => typeof data === 'object' && data !== null

/**
 * A foreign tab on a channel: it posts (garbage, forged or valid messages) and hears what
 * the sessions post, never its own posts. Each BroadcastChannel receives messages in the
 * order they were posted, so a sentinel proves what arrived before it:
 * - `sync()` posts a sentinel (a message no session acts on) from a second channel and waits
 *   for it: whatever any session posted before that moment has then been heard.
 * - `ping(n)` posts a valid `hello`, which every active session answers with its state: once
 *   `n` sessions answered, each has handled everything posted on the channel before it.
 * Both return what was heard before the sentinel (the answers to the ping included) and start
 * the next round empty.
 */
export function channelWitness(channelName: string) {
  const channel = new BroadcastChannel(channelName)
  const echo = new BroadcastChannel(channelName)
  let heard: Message[] = []
  channel.onmessage = event => heard.push(isMessage(event.data) ? event.data : { notAnObject: event.data })
  const take = (count: number) => {
    const round = heard.slice(0, count)
    heard = heard.slice(count)
    return round
  }
  return {
    post: (message: unknown) => channel.postMessage(message),
    /** Everything heard in this round so far. */
    get heard(): readonly Message[] {
      return heard
    },
    async sync(): Promise<Message[]> {
      const sentinel = randomUUID()
      echo.postMessage({ sentinel })
      await waitFor(() => heard.some(m => m['sentinel'] === sentinel))
      const round = take(heard.findIndex(m => m['sentinel'] === sentinel))
      take(1)
      return round
    },
    async ping(sessions: number): Promise<Message[]> {
      const start = heard.length
      channel.postMessage({ rotor: 1, type: 'hello', from: `witness-${randomUUID()}` })
      const answered = () =>
        new Set(
          heard
            .slice(start)
            .filter(m => m['type'] === 'state')
            .map(m => m['from']),
        ).size
      await waitFor(() => expect(answered(), `sessions that answered the ping; heard: ${JSON.stringify(heard.slice(start))}`).toBeGreaterThanOrEqual(sessions))
      return take(heard.length)
    },
    close() {
      channel.close()
      echo.close()
    },
  }
}

/**
 * Wraps a fetch so a test can wait for every answer to reach the caller: each answer's body
 * is read to the end before the caller gets it (as a buffered Response), so once
 * `settled()` resolves and the event loop drained, the session has handled all of them.
 * For "a late answer changes nothing" tests: they must wait for that answer, not sleep.
 */
export function answeredFetch(base: typeof fetch) {
  const calls: Array<Promise<void>> = []
  const wrapped: typeof fetch = (input, init) => {
    const answer = (async () => {
      const response = await base(input, init)
      const body = NULL_BODY.has(response.status) ? null : await response.arrayBuffer()
      return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
    })()
    calls.push(
      answer.then(
        () => undefined,
        () => undefined,
      ),
    )
    return answer
  }
  return {
    fetch: wrapped,
    /** How many calls went through. */
    get calls() {
      return calls.length
    },
    /** Every call made so far has been answered (or failed) and the caller has handled it. */
    async settled(): Promise<void> {
      let handled = 0
      while (handled < calls.length) {
        const upTo = calls.length
        await Promise.all(calls.slice(handled, upTo))
        await drain()
        handled = upTo
      }
    },
  }
}

const NULL_BODY = new Set([101, 103, 204, 205, 304])
