/** One schedule of the simulator: draws a world from the seed, plays user actions and faults on it, checks every invariant after every step. */
import { Escapes } from './escapes.js'
import { Verdict, type Violation } from './invariants.js'
import { Scheduler } from './scheduler.js'
import { AT_TTL, type ServerStats } from './server.js'
import { HOOK_MAX_MS, World, type WorldConfig } from './world.js'
import { switchZoo, type Zoo } from './zoo.js'

export type ScheduleOptions = {
  /** Web Locks present in every tab (false: tabs elect a leader by messages). @default drawn */
  locks?: boolean
  /** Steps before the run counts as a storm or a livelock. */
  maxSteps?: number
  /** Bug zoo: a defect re-introduced in the model, which the invariants must catch. */
  zoo?: Zoo
  /**
   * The extended model (zoo.test.ts): a stricter oracle, forgeries far ahead with tokens, a
   * server answering `expiresIn: 0`, a window where the API refuses every AT. Off by default
   * so that the seeds sim.test.ts names keep replaying as found.
   */
  extended?: boolean
  /** Tabs behind the rotation worker (`--worker`, shared-worker.ts). @default false */
  worker?: boolean
  /** Every tab keeps a socket and an event stream open (`--sockets`, sockets.ts). @default false */
  sockets?: boolean
}

export type { Zoo } from './zoo.js'
/** The model's own defects (sim.test.ts); every defect of the zoo, src/ switches included, is zoo.test.ts's (ZOO_DEFECTS). */
export const ZOO = ['non-exclusive-locks', 'dropped-messages'] as const satisfies readonly Zoo[]

export type ScheduleResult = {
  seed: number
  /** The fingerprint of the trace: a replay of the seed gives the same. */
  hash: string
  steps: number
  config: WorldConfig
  violations: Violation[]
  stats: ServerStats
  /** Calls from src/ to real timers or Math.random seen during the run, by place. */
  escapes: Map<string, number>
  trace: string[]
}

type Action = 'request' | 'rotate' | 'freeze' | 'wake' | 'clock' | 'reload' | 'crash' | 'forge' | 'storage' | 'logout' | 'restart' | 'dispose'
const ACTIONS: ReadonlyArray<readonly [number, Action]> = [
  [40, 'request'],
  [5, 'rotate'],
  [5, 'freeze'],
  [5, 'wake'],
  [3, 'clock'],
  [4, 'reload'],
  [2, 'crash'],
  [4, 'forge'],
  [2, 'storage'],
  [1, 'logout'],
  [1, 'restart'],
]
/** The extended model's actions: the app also disposes a session in a live page (an SPA unmounting it), so the hook that ignores its signal shows (zoo). */
const EXTENDED_ACTIONS: ReadonlyArray<readonly [number, Action]> = [...ACTIONS, [2, 'dispose']]
const WAKE_EVENTS = ['visibilitychange', 'pageshow', 'online', 'focus'] as const

/** Draws the world's shape from the seed. */
function drawConfig(scheduler: Scheduler, options: ScheduleOptions): WorldConfig {
  const random = scheduler.random
  const config: WorldConfig = {
    transport: random.chance(0.5) ? 'bearer' : 'cookie',
    tabs: random.int(1, 4),
    rotation: random.chance(0.5) ? 'timer' : 'request',
    locks: options.locks ?? true,
    refreshTimeout: random.int(1, 5) * 1000,
    queueTimeout: random.int(5, 20) * 1000,
    persist: random.chance(0.3),
    hook: random.weighted([
      [2, 'none'],
      [1, 'answers'],
      [1, 'fails'],
      [1, 'dismissed'],
    ] as const),
    ...(options.extended ? { extended: { brokenExpiry: random.chance(0.2) } } : {}),
  }
  if (options.sockets) config.sockets = true
  // Behind the worker, bearer sessions keep their RT in the worker alone (`persist: true` is refused with `worker`).
  return options.worker ? { ...config, worker: true, ...(config.transport === 'bearer' ? { persist: false } : {}) } : config
}

/** One user action or fault, drawn and applied to a tab of the world. */
function act(world: World, scheduler: Scheduler, extended: boolean): void {
  const random = scheduler.random
  const tabs = world.live()
  const action = random.weighted(extended ? EXTENDED_ACTIONS : ACTIONS)
  const tab = tabs[random.int(0, Math.max(0, tabs.length - 1))]
  scheduler.note(`act ${action} ${tab?.id ?? '-'}`)
  // Any action but a plain request may ask for a rotation (forged-request-ignored, invariants.ts).
  if (action !== 'request') world.stirred()
  if (!tab) return void world.login(world.openTab())
  // What the user does inside a page waits for it to run: a frozen page takes no input (its tasks run on resume).
  if (scheduler.now > 0 && tabs.every(t => t.session.state.status === 'signed-out') && random.chance(0.5)) return tab.run(() => world.login(tab))
  switch (action) {
    case 'request':
      return tab.run(() => world.request(tab))
    case 'rotate':
      return tab.run(() => world.rotate(tab))
    case 'freeze':
      if (tab.frozen) return
      tab.freeze()
      return void scheduler.after(random.int(500, 30_000), `resume ${tab.id}`, () => tab.resume())
    case 'wake': {
      const event = WAKE_EVENTS[random.int(0, WAKE_EVENTS.length - 1)]!
      return tab.run(() => tab.fire(event))
    }
    case 'clock':
      return void (world.origin.clockOffset += (random.chance(0.5) ? 1 : -1) * random.int(1000, 1_800_000))
    case 'reload':
    case 'crash':
      // Behind the worker, a share of crashes are the worker's: the browser terminates it, its tabs live on.
      if (action === 'crash' && world.workers && random.chance(0.4)) return world.workers.kill()
      return void (world.close(tab, action), world.openTab())
    case 'forge':
      return world.forge()
    case 'storage':
      return world.foreignWrite()
    case 'logout':
      return tab.run(() => world.logout(tab))
    case 'restart':
      return void (world.server.faultsOn && world.server.restart())
    case 'dispose':
      return tab.run(() => void world.unmount(tab))
  }
}

/**
 * How long past the quiet while the tabs may still be settling: a rotation (timer mode goes on
 * rotating) may have ended just before, its state on the channel (≤ 8 ms) when the run stopped
 * (sim seed 7243: three tabs at 12, the fourth's message due 1 ms after the end).
 */
export const CONVERGE_GRACE_MS = 1000

/** Every live tab's status and generation, one string each. */
function statesOf(world: World): string[] {
  return world.live().map(tab => `${tab.session.state.status}@${tab.session.state.status === 'active' ? tab.session.state.generation : '-'}`)
}

/** After the faults stopped and a quiet while passed: every live tab on one status and generation, at some step within the grace. */
async function checkConverged(world: World, verdict: Verdict, scheduler: Scheduler, end: number): Promise<void> {
  while (new Set(statesOf(world)).size > 1) {
    if (!(await scheduler.step(end + CONVERGE_GRACE_MS))) return verdict.fail('converges', statesOf(world).join(' '), scheduler.now)
  }
}

/**
 * After the quiet, with every tab awake and the family live (held by a live client): one request
 * from each live tab whose session is active is answered 200 within `bound`. `stays-alive` reads
 * the AT, which request mode lets lapse on purpose; a session that cannot rotate any more shows
 * only when asked. The probes are a scheduled step: the scheduler settles only what its steps
 * start (sent from here, a lock's continuation waited while the clock jumped to the next timer).
 */
async function checkAnswered(world: World, verdict: Verdict, scheduler: Scheduler, bound: number): Promise<void> {
  if (!world.heldLive()) return
  const probes = world.live().flatMap(tab => (tab.session.state.status === 'active' ? [{ tab, result: undefined as string | number | undefined }] : []))
  scheduler.after(0, 'probe', () => {
    for (const probe of probes)
      probe.tab.run(() =>
        probe.tab.session.fetch('https://app.sim/api/data').then(
          response => void ((probe.result = response.status), response.body?.cancel()),
          (error: unknown) => void (probe.result = (error as { code?: string } | undefined)?.code ?? String(error)),
        ),
      )
  })
  const end = scheduler.now + bound
  while (probes.some(p => p.result === undefined) && (await scheduler.step(end)));
  const held = world.server.holdersOf(world.family)
  const by = held ? ` (family ${world.family}'s RT reached ${held.join(', ') || 'no one'})` : ''
  for (const { tab, result } of probes) if (result !== 200) verdict.fail('answered', `${tab.id}: ${result ?? `unsettled after ${bound} ms`}${by}`, scheduler.now)
}

/** Refreshes granted against what the run accounts for: the AT lifetime, rotate() calls, logins, faults. */
export function checkBudget(world: Pick<World, 'server' | 'rotateCalls' | 'logins'>, verdict: Verdict, now: number, refusing = 0): void {
  const { stats } = world.server
  const allowed = Math.ceil(now / (AT_TTL / 2)) * 2 + world.rotateCalls + world.logins * 2 + stats.faults * 3 + 4 + refusing
  if (stats.refreshGranted > allowed) verdict.fail('refresh-budget', `${stats.refreshGranted} refreshes granted, ${allowed} allowed`, now)
}

/** Rotor's documented refresh budget per session: `refreshBudget.perLifetime` (its default) per AT lifetime. */
const PER_LIFETIME = 3

/**
 * Extended model: for a drawn while inside the active period, the API refuses every AT and an
 * app polls it every second or so: each 401 asks for a rotation, a storm only the refresh budget bounds.
 * Returns the refreshes that budget allows there: each session alive in the window (a reload or a
 * remount is a new one) `PER_LIFETIME` in any AT lifetime (sim seed 1441: 30 granted, every session
 * within its own budget, against an allowance that did not count sessions).
 */
function refusingWindow(world: World, scheduler: Scheduler, active: number): () => number {
  if (!scheduler.random.chance(0.3)) return () => 0
  const from = scheduler.random.int(0, active)
  const to = from + scheduler.random.int(10_000, 120_000)
  // Sessions alive as it begins, then every tab opened before it ends.
  let sessions = 0
  const poll = () => {
    const tabs = world.live().filter(tab => !tab.frozen)
    const tab = tabs[scheduler.random.int(0, Math.max(0, tabs.length - 1))]
    if (tab && world.server.apiRefuses) world.request(tab)
    if (world.server.apiRefuses) scheduler.after(scheduler.random.int(300, 2000), 'poll', poll)
  }
  scheduler.after(from, 'api refuses', () => ((sessions = world.live().length - world.tabs.length), (world.server.apiRefuses = true), poll()))
  scheduler.after(to, 'api accepts', () => ((sessions += world.tabs.length), (world.server.apiRefuses = false)))
  return () => sessions * PER_LIFETIME * (Math.floor((to - from) / AT_TTL) + 1)
}

/**
 * The chunks a session loads on demand, loaded before the first run: a first `import()` reads
 * files in real time, and a run that went on meanwhile would not replay. Started by the first
 * run, not when this module loads: a test file that only imports it (zoo-build.test.ts) ended
 * with the imports still pending, and vitest reported their teardown as an unhandled rejection.
 */
let preloading: Promise<unknown> | undefined
const preloaded = () =>
  (preloading ??= Promise.all([
    import('../../src/core/refresh-call.js'),
    import('../../src/utils/redact.js'),
    import('../../src/coordinator/leader-lock.js'),
    import('../../src/worker/tab.js'),
    import('../../src/worker/link.js'),
  ]))

/** Runs schedule `seed` to its end or its first violation. */
export async function runSchedule(seed: number, options: ScheduleOptions = {}): Promise<ScheduleResult> {
  await preloaded()
  const scheduler = new Scheduler(seed)
  const verdict = new Verdict()
  const config = drawConfig(scheduler, options)
  scheduler.note(`config ${JSON.stringify(config)}`)
  const world = new World(scheduler, verdict, config)
  world.origin.nonExclusiveLocks = options.zoo === 'non-exclusive-locks'
  world.origin.dropRate = options.zoo === 'dropped-messages' ? 0.3 : 0
  world.server.strict = config.extended !== undefined
  world.server.expiresAtOnce = config.extended?.brokenExpiry === true
  const escapes = new Escapes()
  escapes.install(scheduler)
  switchZoo(options.zoo)
  const active = scheduler.random.int(2, 10) * 60_000
  const quiet = 3 * AT_TTL
  const faultsFrom = scheduler.random.int(0, active)
  const faultsTo = scheduler.random.int(faultsFrom, active)
  const bound = 3 * (config.queueTimeout + config.refreshTimeout * 3 * 3) + 60_000 + (config.hook === 'none' ? 0 : 2 * HOOK_MAX_MS)
  const maxSteps = options.maxSteps ?? 20_000
  let steps = 0
  try {
    for (let i = 0; i < config.tabs; i++) world.openTab()
    world.login(world.tabs[0]!)
    scheduler.after(faultsFrom, 'faults on', () => (world.server.faultsOn = true))
    scheduler.after(faultsTo, 'faults off', () => (world.server.faultsOn = false))
    const refusing = config.extended ? refusingWindow(world, scheduler, active) : () => 0
    const user = () => {
      if (scheduler.now < active) act(world, scheduler, config.extended !== undefined)
      if (scheduler.now < active) scheduler.after(scheduler.random.int(100, 20_000), 'user', user)
      else for (const tab of world.live()) if (tab.frozen) tab.resume()
    }
    scheduler.after(0, 'user', user)
    while (verdict.ok && (await scheduler.step(active + quiet))) {
      if (++steps > maxSteps) verdict.fail('step-bound', `${maxSteps} steps by ${scheduler.now} ms`, scheduler.now)
      for (const line of world.server.violations.splice(0)) verdict.fail('rt-presented-twice', line, scheduler.now)
      verdict.checkRequests(world.inFlight, scheduler.now, bound)
      world.checkLocks()
      world.sockets?.check(scheduler.now, bound)
    }
    // The quiet runs out where nothing is left to run too (an idle request-mode world arms no timer): the checks come after it,
    // not at the last event (sim `--extended --no-locks` seed 41132: probed 8 s after two rotate() calls and a clock jump, the
    // refresh budget they spent deferred the rotation past the probe's queueTimeout). The budget's allowance counts no idle time.
    const idled = verdict.ok ? scheduler.idleUntil(active + quiet) : 0
    if (verdict.ok) await checkConverged(world, verdict, scheduler, active + quiet)
    if (verdict.ok) world.checkUnheard()
    if (verdict.ok) world.checkAlive()
    if (verdict.ok) await checkAnswered(world, verdict, scheduler, bound)
    for (const line of world.server.violations.splice(0)) verdict.fail('rt-presented-twice', line, scheduler.now)
    if (verdict.ok) checkBudget(world, verdict, scheduler.now - idled, refusing())
  } finally {
    for (const tab of world.tabs) tab.dispose()
    escapes.uninstall()
    switchZoo(undefined)
  }
  return { seed, hash: scheduler.hash(), steps, config, violations: verdict.violations, stats: world.server.stats, escapes: escapes.seen, trace: scheduler.trace }
}
