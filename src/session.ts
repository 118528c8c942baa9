/** createSession: builds the parts of a session, wires them together, and is the `Session` facade. */
import { createLocalCoordinator } from './coordinator/local.js'
import { sharesAcrossContexts } from './coordinator/locks.js'
import { viaWorker } from './coordinator/deferred.js'
import { RefreshBudget } from './core/budget.js'
import { ClockWatch } from './core/clock-watch.js'
import { Gate } from './core/gate.js'
import { assertUsable, tokensFrom } from './core/grant.js'
import { watchEnding } from './core/ending.js'
import { IdleTracker } from './core/idle.js'
import { createPrimitives } from './core/primitives.js'
import { normalizeOptions } from './core/options.js'
import { callLogout, isTransient, LATE_ANSWER_FACTOR, refresher } from './core/refresh.js'
import { Rotator } from './core/rotator.js'
import { Scheduler } from './core/scheduler.js'
import { SessionMachine } from './core/state.js'
import { debugSink, TraceRecorder } from './trace/recorder.js'
import { Sync } from './core/sync.js'
import { decodeJwt } from 'jose'
import type { Dpop, DpopKit } from './dpop/index.js'
import { RotorError, RotorTypeError, SessionExpiredError } from './errors.js'
import { createFetch, replayableBody } from './interceptors/fetch.js'
import { installOn, type Installation } from './interceptors/install.js'
import { createLoopGuard } from './interceptors/loop-guard.js'
import { createInterception } from './interceptors/route.js'
import type { Grant, Session, SessionOptions } from './types.js'
import { fetchTarget, requestURL } from './utils/scope.js'

/** What the DPoP chunk takes from this one (see DpopKit: imported there, each would split this chunk). */
const DPOP_KIT: DpopKit = { replayableBody, requestURL, fetchTarget, decodeJwt, RotorError }

export function createSession(options: SessionOptions): Session {
  const cfg = normalizeOptions(options)
  const { now, transport } = cfg
  const { platform } = cfg
  const clock = platform
  let installed: Installation | undefined
  let wrapped: typeof fetch | undefined // what the last install() wrapped: never our own base
  // Looked up at call time: a fetch patched after createSession (msw, tests) applies; once
  // installed, the fetch the session wrapped (never itself, through someone else's wrapper).
  // Guarded: a `fetch` option that leads back into the session fails instead of looping.
  const guard = createLoopGuard(() => cfg.fetch ?? wrapped ?? platform.fetch())
  const base = (): typeof fetch => guard.fetch
  // DPoP is a chunk of its own, loaded (and the key read or made) only for sessions that ask.
  const dpop: Promise<Dpop> | undefined = cfg.dpop && import('./dpop/index.js').then(m => m.createDpop(cfg.channelName ?? cfg.storageKey, cfg.dpop!, DPOP_KIT))
  dpop?.catch(() => undefined)
  const dpopSend: typeof fetch | undefined = dpop && ((input, init) => dpop.then(d => d.send(guard.fetch, input, init)))
  /** What the session's own calls (managed requests, refresh, logout) go out through. */
  const send = dpopSend ? () => dpopSend : base
  const needDpop = () => dpop ?? Promise.reject(new RotorTypeError('ERR_USAGE', 'rotor-auth: needs the `dpop` option'))
  // A login not bound to the session's key would fail at the first refresh: refused up front.
  const { reauthenticate } = cfg

  const machine = new SessionMachine({ now, leeway: cfg.leeway })
  // Every decision is kept (a bounded ring) and told to the `debug` sink and `trace` listeners.
  const recorder = new TraceRecorder(platform.randomId(), { now, session: cfg.channelName, size: cfg.traceSize, sinks: [debugSink(cfg.debug, console), entry => machine.emit('trace', entry)] })
  platform.debug = recorder.record
  // An injected `now` is a clock tests move on purpose: the platform pairs no monotonic clock with it.
  const watch = new ClockWatch(now, platform.monotonic)
  /** Both tokens look dead: end (or reauthenticate), unless the clock jumped; then ask the server. */
  const end = (reason: 'expired') => (watch.inDoubt() ? rotator.rotateFrom(machine.snapshot.generation) : rotator.endOrReauthenticate(reason))
  /** Longest a refresh may take anywhere: a tab closed mid-rotation never says it is done. */
  const rotationLimitMs = cfg.refreshTimeout * LATE_ANSWER_FACTOR * (cfg.refreshRetries + 1) + 1000
  const onStorageError = (error: unknown, cleared: boolean) => machine.emit('storage-error', { error, cleared })
  const local = () => createLocalCoordinator({ ...cfg, name: cfg.channelName, rotationLimitMs, followerLimitMs: cfg.queueTimeout, onStorageError })
  const { worker, channelName } = cfg
  const coordinator =
    cfg.coordinator ??
    (worker && channelName
      ? viaWorker({ cfg: { ...cfg, worker, channelName }, local, onStorageError, onFallback: reason => machine.emit('worker-fallback', { reason }) })
      : local())
  const idle =
    cfg.idle &&
    new IdleTracker(cfg.idle, {
      now,
      clock,
      onWarning: (event, logoutAt) => machine.emit(event, { logoutAt }),
      // Every tab's idle timer runs out at about the same moment: under the lock, with the
      // shared state re-read, only the first one calls the server; the rest adopt its logout.
      onTimeout: () => void coordinator.lock(() => sync.catchUp().then(() => logout('idle'))).catch(() => undefined),
      broadcast: at => sync.activity(at),
    })
  const sync = new Sync({
    coordinator, machine, clock, now, transport,
    shared: cfg.coordinator !== undefined || cfg.channelName !== undefined,
    rotatingTimeout: rotationLimitMs,
    // This tab leads where only the leader refreshes: another tab needs the AT after `generation`.
    onRotateRequest: generation => void gate.wait({ stale: generation }).catch(() => undefined),
    onActivity: at => idle?.remoteActivity(at),
    // The tab running reauthenticate() closed: the next one in the lock takes the job over.
    onHandover: () => void rotator.rotateFrom(machine.snapshot.generation).catch(() => undefined),
  })
  const scheduler: Scheduler = new Scheduler({
    machine, clock, now, watch, rotation: cfg.rotation, rotateAt: cfg.rotateAt,
    isLeader: () => coordinator.isLeader(),
    isIdle: () => idle?.isIdle() ?? false,
    rotate: (generation): Promise<void> => rotator.rotateFrom(generation), end,
    onRetry: () => gate.pump(),
  })
  const gate = new Gate({
    machine, clock, now, queueTimeout: cfg.queueTimeout,
    rotate: generation => rotator.rotateFrom(generation), end,
    backingOff: () => scheduler.backingOff(),
  })
  const rotator: Rotator = new Rotator({
    machine, sync, now, transport,
    reauthenticate: (dpop && reauthenticate && (c => reauthenticate(c).then(grant => dpop.then(d => d.check(grant))))) || reauthenticate,
    lock: (fn, lockOptions) => coordinator.lock(fn, lockOptions),
    isTransient: error => isTransient(error, transport),
    // A reload mid-refresh: its keepalive refresh may still store the new RT cookie.
    inFlightLimitMs: transport === 'cookie' ? cfg.refreshTimeout : 0,
    // A browser's tabs share bearer tokens by message only; in one realm (Node) the store has them.
    probeFirst: () => transport === 'bearer' && !cfg.persistTokens && cfg.coordinator === undefined && !worker && sharesAcrossContexts(cfg.channelName),
    refresh: refresher(cfg, send, clock),
    // Waiting requests count failures against their deadline; the scheduler backs off.
    backoff: {
      failed: (error): number => (gate.failed(error), scheduler.failed()),
      succeeded: () => (gate.succeeded(), scheduler.succeeded()),
      stalled: error => gate.failed(error),
      deferred: (error, ms) => (gate.failed(error), scheduler.defer(ms)),
    },
    budget: new RefreshBudget(cfg.refreshBudget, now),
  })
  const ending = cfg.sessionEnding ? watchEnding(cfg.sessionEnding, { machine, clock, now, end: () => end('expired') }) : undefined
  machine.watch((transition, fresh) => {
    if (transition === 'entered') watch.settled()
    if (transition === 'entered' && fresh) idle?.start()
    if (transition === 'ended') idle?.stop()
  })

  const ic = createInterception(cfg, machine, gate, { passThrough: guard.passThrough, sendOwn: dpopSend ?? guard.sendOwn, looped: guard.looped })
  const sessionFetch = createFetch(ic)

  /** Best-effort server logout (it revokes the RT family), then the local end in every tab. */
  async function logout(reason: 'user' | 'idle'): Promise<void> {
    const snapshot = machine.snapshot
    if (snapshot.status !== 'active') return
    // End everywhere first: the shared state says signed-out before the server is asked, so
    // no other tab can take the lock meanwhile and present an RT our aborted refresh spent.
    // A worker that keeps the RT calls the server itself (asked first: the end reaches it next).
    const server = coordinator.logout?.()
    await Promise.all([sync.publishEnd(reason), server ?? callLogout(cfg, send(), snapshot)])
  }

  const assertAlive = (method: string) => {
    if (machine.disposed) throw new SessionExpiredError('disposed', `rotor-auth: session.${method}() called after dispose()`)
  }

  const primitives = createPrimitives(machine, gate, transport)

  sync.join()

  return {
    fetch: sessionFetch,
    get state() {
      return machine.view
    },
    on: (event, listener) => machine.on(event, listener),
    async start(grant: Grant | Response) {
      assertAlive('start')
      const tokens = await tokensFrom(dpop ? await dpop.then(d => d.check(grant)) : grant, now)
      // A dead grant (or a bearer one without its AT) would fail at once: refuse it, stay signed out.
      assertUsable(tokens, now(), transport)
      await sync.publish(tokens, 'login')
    },
    async rotate() {
      assertAlive('rotate')
      if (machine.snapshot.status !== 'active') throw new SessionExpiredError(machine.snapshot.reason ?? 'expired')
      return rotator.rotateFrom(machine.snapshot.generation)
    },
    ...primitives,
    async logout() {
      assertAlive('logout')
      await logout('user')
    },
    keepAlive: () => idle?.activity(),
    get warnings() { return { idle: idle?.warningFor() ?? null, ending: ending?.() ?? null } },
    busy(work) {
      const release = idle?.hold()
      if (release) void Promise.resolve(work).then(release, release)
      return work
    },
    install(target = globalThis, installOptions = {}) {
      assertAlive('install')
      if (dpop && installOptions.xhr) throw new RotorTypeError('ERR_USAGE', 'rotor-auth: `dpop` cannot go with the XHR facade yet')
      if (installed?.target === target) return installed.uninstall
      installed?.uninstall()
      const installation = installOn(target, installOptions, sessionFetch, ic)
      wrapped = installation.original
      const uninstall = () => {
        installation.uninstall()
        if (installed?.target === target) installed = undefined
      }
      installed = { ...installation, uninstall }
      return uninstall
    },
    trace: ((traceOptions?: { tabs: true; timeout?: number }) =>
      traceOptions?.tabs ? import('./trace/peers.js').then(peers => peers.ask(coordinator, recorder, traceOptions, platform)) : recorder.export()) as Session['trace'],
    dpopProof: (...args) => needDpop().then(d => d.proof(...args)),
    dpopFetch: (input, init) => needDpop().then(d => d.send(base(), input, init)),
    dispose() {
      if (machine.disposed) return
      // Waiting requests end now; a refresh already on the wire is not aborted when other
      // tabs may need its answer (the server may have spent the RT), and a reauthenticate()
      // running here is stopped and handed over to them; the coordinator closes after both.
      const peers = coordinator.hasPeers()
      const rotation = peers ? machine.flight('rotation') : undefined
      const ending = peers ? machine.flight('ending') : undefined
      rotator.dispose()
      machine.dispose(rotation !== undefined)
      scheduler.dispose()
      idle?.dispose()
      installed?.uninstall()
      const close = () => {
        sync.close()
        coordinator.close()
      }
      if (!rotation && !ending) return close()
      // Bounded as documented: refreshTimeout from dispose(), however late answers are awaited.
      const abandon = clock.after(cfg.refreshTimeout, () => machine.abandon())
      void Promise.allSettled([rotation, ending]).finally(() => (abandon.cancel(), close()))
    },
  }
}
