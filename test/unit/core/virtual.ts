// Virtual time and a small session core (machine, sync, rotator, policy, gate) on a memory coordinator, for the core's unit tests.
import { RefreshBudget, DEFAULT_BUDGET, type BudgetLimits } from '../../../src/core/budget.js'
import { ClockWatch } from '../../../src/core/clock-watch.js'
import { Gate } from '../../../src/core/gate.js'
import type { Tokens } from '../../../src/core/grant.js'
import { FailureBackoff, RotationPolicy } from '../../../src/core/policy.js'
import { Rotator, type RotatorOptions } from '../../../src/core/rotator.js'
import { SessionMachine } from '../../../src/core/state.js'
import { Sync } from '../../../src/core/sync.js'
import { RefreshRefusedError } from '../../../src/errors.js'
import type { Timer } from '../../../src/platform/types.js'
import { type MemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import type { Grant, RotateErrorEvent } from '../../../src/types.js'

const realSetImmediate = globalThis.setImmediate

/** Every microtask chain already started runs to its end (no time passes). */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>(resolve => realSetImmediate(resolve))
}

/** A clock and timers that move only when the test says so; `random` is fixed (mid-range jitter). */
export function virtualTime(start = 1_900_000_000_000) {
  let t = start
  let jumped = 0
  const timers = new Set<{ at: number; fn: () => void }>()
  const listeners = new Map<string, Set<() => void>>()
  return {
    now: () => t,
    /** Time as it flowed, jumps left out. */
    monotonic: () => t - jumped,
    random: () => 0.5,
    after(ms: number, fn: () => void): Timer {
      const timer = { at: t + Math.max(0, ms), fn }
      timers.add(timer)
      return { cancel: () => void timers.delete(timer) }
    },
    on(type: string, listener: () => void) {
      const set = listeners.get(type) ?? new Set()
      listeners.set(type, set.add(listener))
      return () => void set.delete(listener)
    },
    /** Fires a runtime event (a wake-up) as the browser would. */
    fire(type: string) {
      for (const listener of listeners.get(type) ?? []) listener()
    },
    /** Time passes but no timer fires (a throttled background tab, a frozen page). */
    stall(ms: number) {
      t += ms
    },
    /** Moves the wall clock only (the user or NTP set it): timers do not fire. */
    jump(ms: number) {
      t += ms
      jumped += ms
    },
    /** Moves time by `ms`, firing each due timer in order and letting its consequences settle. */
    async advance(ms: number) {
      const end = t + ms
      await settle()
      for (;;) {
        const next = [...timers].filter(x => x.at <= end).sort((a, b) => a.at - b.at)[0]
        if (!next) break
        timers.delete(next)
        t = Math.max(t, next.at)
        next.fn()
        await settle()
      }
      t = end
      await settle()
    },
    get pending() {
      return timers.size
    },
  }
}
export type VirtualTime = ReturnType<typeof virtualTime>

/** What the fake auth server saw and answers: each refresh call with the RT presented. */
export function fakeServer(time: VirtualTime, lifetime = 60_000) {
  let issued = 0
  const presented: Array<string | undefined> = []
  let answer: ((rt: string | undefined) => Promise<Tokens>) | undefined
  const grant = (): Tokens => {
    const at = time.now()
    issued++
    return { accessToken: `at-${issued}`, refreshToken: `rt-${issued}`, issuedAt: at, accessExpiresAt: at + lifetime, refreshExpiresAt: at + 10 * lifetime }
  }
  return {
    presented,
    grant,
    /** Replace the server's behaviour (a failure, a slow answer); undefined restores it. */
    answerWith(fn: typeof answer) {
      answer = fn
    },
    refresh: async ({ refreshToken }: Parameters<RotatorOptions['refresh']>[0]): Promise<Tokens> => {
      presented.push(refreshToken)
      if (answer) return answer(refreshToken)
      if (presented.indexOf(refreshToken) !== presented.length - 1) throw new RefreshRefusedError(401, 'reused')
      return grant()
    },
  }
}
export type FakeServer = ReturnType<typeof fakeServer>

export type CoreOptions = {
  rotation?: 'timer' | 'request' | undefined
  budget?: BudgetLimits
  queueTimeout?: number
  idle?: () => boolean
  /** Bearer tokens by message only: the lock holder may ask the peers first (Rotator's probeFirst). */
  probeFirst?: boolean
  /** The app's `reauthenticate` hook (none by default: a refused RT ends the session). */
  reauthenticate?: RotatorOptions['reauthenticate']
  /** Watch the wall clock against the monotonic one, as createSession does (off: nothing is ever a jump). */
  watchClock?: boolean
}

/** One session's core (what createSession wires) on virtual time, sharing `shared` with the others. */
export function sessionCore(time: VirtualTime, server: FakeServer, shared: MemoryCoordinator, options: CoreOptions = {}) {
  const now = time.now
  const coordinator = shared.join()
  const machine = new SessionMachine({ now, leeway: undefined })
  const sync = new Sync({ coordinator, machine, clock: time, now, transport: 'bearer', shared: true, rotatingTimeout: 91_000 })
  const backoff = new FailureBackoff(time)
  const rotator = new Rotator({
    machine,
    sync,
    now,
    clock: time,
    loginWaitMs: options.queueTimeout ?? 30_000,
    transport: 'bearer',
    backoff,
    lock: (fn, lockOptions) => coordinator.lock(fn, lockOptions),
    refresh: call => server.refresh(call),
    isTransient: error => !(error instanceof RefreshRefusedError),
    probeFirst: () => options.probeFirst ?? false,
    markSpent: true,
    inFlightLimitMs: 0,
    reauthenticate: options.reauthenticate,
    budget: new RefreshBudget(options.budget ?? DEFAULT_BUDGET, now),
  })
  const watch = new ClockWatch(now, options.watchClock ? time.monotonic : undefined)
  if (options.watchClock) machine.watch(transition => transition === 'entered' && watch.settled())
  const policy = new RotationPolicy({ view: machine, watch, rotation: options.rotation ?? 'request', isIdle: options.idle ?? (() => false), rotator, backoff })
  sync.onRotateRequest(generation => policy.peerAsked(generation))
  const gate = new Gate({
    view: machine,
    clock: time,
    now,
    queueTimeout: options.queueTimeout ?? 30_000,
    needRotation: () => policy.requestsWaiting(),
    lastFailure: () => backoff.lastFailure(),
  })
  backoff.onRetry(() => gate.pump())
  const errors: RotateErrorEvent[] = []
  machine.on('rotate-error', event => errors.push(event))
  sync.join()
  return { coordinator, machine, sync, backoff, rotator, policy, gate, errors, start: (tokens = server.grant()) => sync.publish(tokens, 'login') }
}
export type Core = ReturnType<typeof sessionCore>

/** A login form: it settles when `answer` is called (a grant, or undefined: dismissed), never by itself. */
export function loginForm() {
  const calls: number[] = []
  let answer: ((grant: Grant | undefined) => void) | undefined
  const hook = () => {
    calls.push(calls.length + 1)
    return new Promise<Grant | void>(resolve => (answer = resolve))
  }
  return { hook, calls, answer: (grant: Grant | undefined) => answer?.(grant) }
}
