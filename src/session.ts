/** createSession: builds the parts of a session, wires them together, and is the `Session` facade. */
import type {} from './utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)
import { createLocalCoordinator } from './coordinator/local.js'
import { viaWorker } from './worker/via-worker.js'
import { RefreshBudget } from './core/budget.js'
import { ClockWatch } from './core/clock-watch.js'
import { followerLimitMs, inFlightLimitMs, rotationLimitMs } from './core/deadlines.js'
import { Gate } from './core/gate.js'
import { logins, type Logins } from './core/logins.js'
import { endingOnDemand, idleOnDemand, type IdlePart } from './core/on-demand.js'
import { normalizeOptions } from './core/options.js'
import { callLogout, isTransient, refresher } from './core/refresh.js'
import { FailureBackoff, RotationPolicy } from './core/policy.js'
import { Rotator } from './core/rotator.js'
import { Scheduler } from './core/scheduler.js'
import { SessionMachine } from './core/state.js'
import { TraceRecorder, type TraceEntry } from './trace/recorder.js'
import { Sync } from './core/sync.js'
import { createWaits } from './core/waits.js'
import { decodeJwt } from './utils/decode-jwt.js'
import type { DpopKit } from './dpop/index.js'
import type { DebugSink } from './platform/types.js'
import { RotorError, RotorTypeError, SessionExpiredError } from './errors.js'
import { createFetch, replayableBody } from './interceptors/fetch.js'
import { installOn, type Installation } from './interceptors/install.js'
import { createLoopGuard } from './interceptors/loop-guard.js'
import { createInterception } from './interceptors/interception.js'
import type { Config } from './core/options.js'
import type { Coordinator, Grant, InstallOptions, InstallTarget, Session, SessionOptions } from './types.js'
import { fetchTarget, requestURL } from './utils/scope.js'

/** What the DPoP chunk takes from this one (see DpopKit: imported there, each would split this chunk). */
const DPOP_KIT: DpopKit = [replayableBody, requestURL, fetchTarget, decodeJwt, RotorError, RotorTypeError]

/** How the session's own calls go out: the guarded underlying fetch, and DPoP when asked. */
function outbound(cfg: Config) {
  const state = {
    /** What the last install() wrapped: never our own base. */
    wrapped: undefined as typeof fetch | undefined,
  }
  // Looked up at call time: a fetch patched after createSession (msw, tests) applies; once
  // installed, the fetch the session wrapped (never itself, through someone else's wrapper).
  // Guarded: a `fetch` option that leads back into the session fails instead of looping.
  const guard = createLoopGuard(() => cfg.fetch ?? state.wrapped ?? cfg.platform.fetch())
  const base = (): typeof fetch => guard.fetch
  // DPoP is a chunk of its own (src/dpop/session.ts), loaded by sessions with `dpop` (their key
  // starts loading now), or to refuse dpopProof/dpopFetch to the others.
  const dpop = () => import('./dpop/session.js').then(m => m.dpopOf(cfg, guard.fetch, DPOP_KIT))
  if (cfg.dpop) dpop().catch(() => undefined)
  const signed: typeof fetch = (input, init) => dpop().then(d => d.send(input, init))
  // A login not bound to the session's key would fail at the first refresh: refused up front.
  const bound = <T extends Grant | Response | void>(grant: T) => (cfg.dpop ? dpop().then(d => d.check(grant)) : grant)
  /** What the session's own calls (managed requests, refresh, logout) go out through. */
  const send = cfg.dpop ? () => signed : base
  return {
    state,
    guard,
    base,
    dpop,
    signed,
    bound,
    send,
    /** Best-effort server logout of `tokens` (it revokes their RT family; with cookies, the jar's). */
    revoke: (tokens: Parameters<typeof callLogout>[2]) => callLogout(cfg, send(), tokens),
  }
}
type Outbound = ReturnType<typeof outbound>

/** The app's coordinator, else the rotation worker's (falling back to the local one), else the local one. */
function coordinatorOf(cfg: Config, machine: SessionMachine, revoke: Outbound['revoke'], user: () => Logins): Coordinator {
  const onStorageError = (error: unknown, cleared: boolean) => machine.emit('storage-error', { error, cleared })
  const local = () => createLocalCoordinator({ ...cfg, rotationLimitMs: rotationLimitMs(cfg), followerLimitMs: followerLimitMs(cfg), name: cfg.channelName, onStorageError })
  const { worker, channelName } = cfg
  if (cfg.coordinator) return cfg.coordinator
  if (!worker || !channelName) return local()
  // The worker's own session is given the hub's coordinator: its build drops this.
  notInWorker: return viaWorker({
    cfg: { ...cfg, worker, channelName },
    local,
    onStorageError,
    revoke,
    login: (grant, at) => user().start(grant, at),
    onFallback: reason => (cfg.platform.debug?.('worker-fallback', { reason }), machine.emit('worker-fallback', { reason })),
  })
}

/** The session's trace: every decision kept (a bounded ring) and told to the `debug` sink and `trace` listeners. */
function recorderOf(cfg: Config, machine: SessionMachine): TraceRecorder {
  const { debug } = cfg
  const sinks = [typeof debug === 'function' ? debug : undefined, (entry: TraceEntry) => machine.emit('trace', entry)]
  const recorder = new TraceRecorder(cfg.platform.randomId(), { now: cfg.now, session: cfg.channelName, size: cfg.traceSize, sinks })
  cfg.platform.debug = recorder.record
  // The console's or a logger's levels load only when asked for; what was recorded meanwhile is told to it then.
  if (debug && debug !== sinks[0]) void import('./trace/sink.js').then(sink => sink.attach(recorder, debug, console))
  return recorder
}

/** The idle logout, when asked for (never by the worker's own session: its build drops this): activity in any tab counts, and the first tab whose timer runs out logs every tab out. */
function idleOf(cfg: Config, { machine, coordinator, sync, trace }: Wired & { trace: DebugSink }, logout: (reason: 'idle') => Promise<void>): IdlePart | undefined {
  notInWorker: {
    if (!cfg.idle) return undefined
    const idle = idleOnDemand(cfg.idle, cfg.platform, {
      trace,
      onWarning: (event, logoutAt) => machine.emit(event, { logoutAt }),
      // Every tab's idle timer runs out at about the same moment: under the lock, with the
      // shared state re-read, only the first one calls the server; the rest adopt its logout.
      onTimeout: () => void coordinator.lock(() => sync.catchUp().then(() => logout('idle'))).catch(() => undefined),
      broadcast: at => sync.activity(at),
    })
    sync.onActivity(at => idle.remoteActivity(at))
    return idle
  }
}

type Wired = { machine: SessionMachine; coordinator: Coordinator; sync: Sync }

/** Best-effort server logout (it revokes the RT family), then the local end in every tab. */
function logoutOf(revoke: Outbound['revoke'], { machine, coordinator, sync }: Wired) {
  // The logout on its way: a second logout() meanwhile resolves with it, once the server was asked (sim seed 12306).
  let inFlight: Promise<void> | undefined
  return (reason: 'user' | 'idle'): Promise<void> => {
    const snapshot = machine.snapshot
    if (snapshot.status !== 'active') return inFlight ?? Promise.resolve()
    // End everywhere first: the shared state says signed-out before the server is asked, so no other tab can take the lock
    // meanwhile and present an RT our aborted refresh spent. A worker that keeps the RT calls the server itself (asked first:
    // the end reaches it next); without one, or when it could not (it was lost), the session calls the endpoint with what it holds.
    const server = (coordinator.logout?.(snapshot) ?? Promise.reject()).catch(() => revoke(snapshot))
    const done = Promise.all([sync.publishEnd(reason), server]).then(() => undefined)
    const clear = () => void (inFlight === done && (inFlight = undefined))
    done.then(clear, clear)
    return (inFlight = done)
  }
}

/** The rotator: the refresh call, the lock and the budget, and what to ask before presenting the RT. */
function rotatorOf(cfg: Config, out: Outbound, { machine, coordinator, sync, backoff, trace }: Wired & { backoff: FailureBackoff; trace: DebugSink }): Rotator {
  const { now, transport, reauthenticate } = cfg
  return new Rotator({
    machine,
    sync,
    now,
    clock: cfg.platform,
    loginWaitMs: cfg.queueTimeout,
    transport,
    backoff,
    trace,
    reauthenticate: reauthenticate && (context => reauthenticate(context).then(out.bound)),
    revoke: out.revoke,
    lock: (fn, lockOptions) => coordinator.lock(fn, lockOptions),
    isTransient: error => isTransient(error, transport),
    inFlightLimitMs: inFlightLimitMs(cfg, transport),
    // Bearer on the default coordinator or one whose members see it at once (`marksSpent`: the worker's hub, sim seed 113041; Redis keeps its documented limits).
    // Bug zoo: the lost bearer answer and the refusal race come back whole: no verdict in the store before the lock goes, so no mark at a 2xx's headers either.
    markSpent:
      transport === 'bearer' &&
      (cfg.coordinator?.marksSpent ?? !cfg.coordinator) &&
      !(typeof __ROTOR_ZOO__ === 'object' && (__ROTOR_ZOO__.has('lost-bearer-answer') || __ROTOR_ZOO__.has('refusal-race'))),
    // Bearer tokens that reach other tabs by message only: ask them before presenting the RT.
    probeFirst: () => transport === 'bearer' && coordinator.sharesTokens === 'message',
    refresh: refresher(cfg, out.send, cfg.platform),
    budget: new RefreshBudget(cfg.refreshBudget, cfg.platform.monotonic ?? now), // wall-clock set-backs made past calls "just now" (sim `--worker` seed 214)
  })
}

/** The parts of a session, built in dependency order (each from those before it) and wired. */
function assemble(cfg: Config, out: Outbound) {
  const { now, transport, platform } = cfg
  const { guard } = out
  const trace: DebugSink = (kind, fields) => platform.debug?.(kind, fields) // decisions go to the session's trace (the recorder below becomes platform.debug)
  const machine = new SessionMachine({ now, leeway: cfg.leeway, trace })
  const recorder = recorderOf(cfg, machine)
  const watch = new ClockWatch(now, platform.monotonic) // an injected `now` is a clock tests move on purpose: the platform pairs no monotonic clock with it
  const coordinator = coordinatorOf(cfg, machine, out.revoke, () => user)
  const sync = new Sync({
    coordinator,
    machine,
    clock: platform,
    now,
    transport,
    trace,
    // Loaded only when another tab asks for (or answers with) a trace.
    onTraceMessage: message => void import('./trace/peers.js').then(peers => peers.heard(message, coordinator, recorder)),
    shared: cfg.coordinator !== undefined || cfg.channelName !== undefined,
    rotatingTimeout: rotationLimitMs(cfg),
    randomId: () => platform.randomId(),
  })
  const logout = logoutOf(out.revoke, { machine, coordinator, sync })
  const user = logins({ now, transport, bound: out.bound, sync, logout, revoke: out.revoke })
  const idle = idleOf(cfg, { machine, coordinator, sync, trace }, logout)
  const elapsed = platform.monotonic ?? now // queueTimeout is a wait: the gate and the failures it is told of count on a clock the wall clock's jumps do not move
  const backoff = new FailureBackoff({ ...platform, now: elapsed })
  const rotator = rotatorOf(cfg, out, { machine, coordinator, sync, backoff, trace })
  const policy = new RotationPolicy({ view: machine, watch, trace, rotation: cfg.rotation, isIdle: () => idle?.isIdle() ?? false, rotator, backoff })
  sync.onRotateRequest(generation => policy.peerAsked(generation))
  sync.onHandover(() => policy.handover())
  const gate = new Gate({
    view: machine,
    clock: platform,
    now: elapsed,
    queueTimeout: cfg.queueTimeout,
    needRotation: () => policy.requestsWaiting(),
    lastFailure: () => backoff.lastFailure(),
  })
  backoff.onRetry(() => gate.pump())
  const scheduler = new Scheduler({
    view: machine,
    platform,
    watch,
    rotation: cfg.rotation,
    rotateAt: cfg.rotateAt,
    isLeader: () => coordinator.isLeader(),
    onDue: () => policy.due(),
    onClockJump: () => policy.clockJumped(),
  })
  const ending = cfg.sessionEnding ? endingOnDemand(cfg.sessionEnding, platform, { machine, trace, end: () => policy.end() }) : undefined
  machine.watch((transition, fresh) => {
    if (transition === 'entered') watch.settled()
    if (transition === 'entered' && fresh) idle?.start()
    if (transition === 'ended') idle?.stop()
  })

  const interception = createInterception(cfg, machine, gate, { passThrough: guard.passThrough, sendOwn: cfg.dpop ? out.signed : guard.sendOwn, looped: guard.looped })
  if (cfg.dpop) interception.dpop = out.dpop
  const sessionFetch = createFetch(interception)

  sync.join()
  return {
    machine,
    recorder,
    coordinator,
    sync,
    idle,
    backoff,
    rotator,
    policy,
    gate,
    scheduler,
    ending,
    interception,
    sessionFetch,
    logout,
    user,
    waits: createWaits(machine, gate, transport),
  }
}
type Parts = ReturnType<typeof assemble>

/**
 * Waiting requests end now; a refresh already on the wire is not aborted when other tabs may need its answer (the server may
 * have spent the RT), and a reauthenticate() running here is stopped and handed over to them; the coordinator closes after both.
 * The hub never disposes its session (its run ends with the worker): the worker's build drops this.
 */
function teardown(cfg: Config, parts: Parts, uninstall: () => void): void {
  notInWorker: {
    const { machine, coordinator, rotator, scheduler, backoff, idle, sync } = parts
    const peers = coordinator.hasPeers()
    // Only a rotation holding the lock may have a refresh to finish for the others. One still
    // waiting for it (behind another tab's open login form, for as long as that takes) has none:
    // it is dropped, and when its lock comes it lets go at once (sim seed 540, extended model).
    const rotation = peers && rotator.holding ? machine.flight('rotation') : undefined
    const ending = peers ? machine.flight('ending') : undefined
    rotator.dispose()
    machine.dispose(rotation !== undefined)
    scheduler.dispose()
    backoff.dispose()
    idle?.dispose()
    uninstall()
    const close = () => (sync.close(), coordinator.close())
    if (!rotation && !ending) return close()
    // Bounded as documented: as long as any rotation may take, late answers and retries included. Cut at
    // refreshTimeout, a slow answer was lost and the next tab presented the RT it had spent (chaos seed -1711411461).
    const abandon = cfg.platform.after(rotationLimitMs(cfg), () => machine.abandon())
    void Promise.allSettled([rotation, ending]).finally(() => (abandon.cancel(), close()))
  }
}

export function createSession(options: SessionOptions): Session {
  const cfg = normalizeOptions(options)
  const out = outbound(cfg)
  const parts = assemble(cfg, out)
  const { machine, policy, idle, ending, sessionFetch, interception, user } = parts
  let installed: Installation | undefined

  const assertAlive = (method: string) => {
    if (machine.disposed) throw new SessionExpiredError('disposed', `rotor-auth: session.${method}() called after dispose()`)
  }
  /** No tab calls the worker's session's install(): the worker's build drops its body (`notInWorker:`), defaults included. */
  function install(given?: InstallTarget, installOptions?: InstallOptions): () => void {
    notInWorker: {
      const target = given ?? globalThis
      assertAlive('install')
      if (installed?.target === target) return installed.uninstall
      installed?.uninstall()
      const installation = installOn(target, installOptions ?? {}, sessionFetch, interception)
      out.state.wrapped = installation.original
      const uninstall = () => {
        installation.uninstall()
        if (installed?.target === target) installed = undefined
      }
      installed = { ...installation, uninstall }
      return uninstall
    }
  }

  return {
    fetch: sessionFetch,
    get state() {
      return machine.view
    },
    on: (event, listener) => machine.on(event, listener),
    async start(grant: Grant | Response) {
      assertAlive('start')
      await user.start(grant)
    },
    async rotate() {
      assertAlive('rotate')
      if (machine.snapshot.status !== 'active') throw new SessionExpiredError(machine.snapshot.reason ?? 'expired')
      return policy.rotate(machine.snapshot.generation)
    },
    ...parts.waits,
    async logout() {
      assertAlive('logout')
      await user.logout()
    },
    keepAlive: () => idle?.activity(),
    now: cfg.now,
    get warnings() {
      notInWorker: return { idle: idle?.warningFor() ?? null, ending: ending?.part?.() ?? null }
    },
    busy(work) {
      notInWorker: {
        const release = idle?.hold()
        if (release) void Promise.resolve(work).then(release, release)
      }
      return work
    },
    install,
    trace: ((traceOptions?: { tabs: true; timeout?: number }) =>
      traceOptions?.tabs
        ? import('./trace/peers.js').then(peers => peers.ask(parts.coordinator, parts.recorder, traceOptions, cfg.platform))
        : parts.recorder.export()) as Session['trace'],
    dpopProof: (...args) => out.dpop().then(d => d.proof(...args)),
    dpopFetch: out.signed,
    dispose() {
      if (machine.disposed) return
      teardown(cfg, parts, () => installed?.uninstall())
    },
  }
}
