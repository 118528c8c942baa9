/** One schedule of Node processes on the Redis coordinator: the model server and a model Redis, processes that pause, crash and restart, links that drop, a Redis that restarts empty, every invariant checked after every step. */
import { LATE_ANSWER_FACTOR } from '../../src/core/deadlines.js'
import { keysOf } from '../../src/redis/scripts.js'
import { Escapes } from './escapes.js'
import { Verdict, type InvariantName } from './invariants.js'
import { Process } from './process.js'
import { SimRedis } from './redis-net.js'
import { checkBudget, CONVERGE_GRACE_MS, type ScheduleResult } from './schedule.js'
import { Scheduler } from './scheduler.js'
import { AT_TTL } from './server.js'
import { World, type WorldConfig } from './world.js'
import { switchZoo } from './zoo.js'

/**
 * Seeds of `--redis` that fail, with the invariant they break: none in seeds 1–5,000 (3320 and
 * 1198, fixed, are regression seeds: findings.ts).
 */
export const OPEN_FINDINGS_REDIS: Record<number, InvariantName> = {}

/** Past defects of the Redis wing, each re-introduced by a test-only switch in src/ (src/utils/zoo.ts); redis-sim.test.ts holds each to its bound. */
export const REDIS_ZOO = {
  'lease-unchecked': 'the lease is not asked right before the RT is presented (src/core/rotator.ts): a holder paused past its lease presents it',
} as const
export type RedisZoo = keyof typeof REDIS_ZOO

type Action = 'request' | 'rotate' | 'pause' | 'pause-holder' | 'crash' | 'drop' | 'redis-restart' | 'foreign' | 'logout' | 'restart'
const ACTIONS: ReadonlyArray<readonly [number, Action]> = [
  [40, 'request'],
  [5, 'rotate'],
  [3, 'pause'],
  [6, 'pause-holder'],
  [3, 'crash'],
  [3, 'drop'],
  [1, 'redis-restart'],
  [1, 'logout'],
  [1, 'restart'],
  [2, 'foreign'],
]

/** Leases drawn (ms): from one barely above Redis's round trip to the default. */
const LEASES: ReadonlyArray<readonly [number, number]> = [
  [1, 300],
  [2, 1_000],
  [1, 3_000],
  [1, 10_000],
]

/** Longest the operator waits for a login to land before logging in again (its process may be paused, Redis down). */
const LOGIN_LANDS_MS = 60_000

/** The processes of the name, the server they refresh at and the Redis they share. */
class RedisWorld {
  readonly world: World
  readonly redis: SimRedis
  readonly processes: Process[] = []
  readonly #scheduler: Scheduler
  readonly #config: WorldConfig
  #started = 0

  constructor(scheduler: Scheduler, verdict: Verdict, config: WorldConfig) {
    this.#scheduler = scheduler
    this.#config = config
    this.world = new World(scheduler, verdict, config)
    this.redis = new SimRedis(scheduler)
  }

  /** The process of the last login and when it began (virtual ms). */
  #lastLogin: { process: Process; at: number } | undefined

  login(process: Process): void {
    this.#lastLogin = { process, at: this.#scheduler.now }
    this.world.login(process)
  }

  /**
   * Whether the last login may still land: its process runs on (a paused one resumes its
   * start() later) and has not shown it yet, within LOGIN_LANDS_MS (a start() that failed).
   */
  loginPending(): boolean {
    const last = this.#lastLogin
    if (!last || last.process.disposed || this.#scheduler.now - last.at > LOGIN_LANDS_MS) return false
    return last.process.session.state.status !== 'active'
  }

  get lease(): number {
    return this.#config.redis!.lease
  }

  live(): Process[] {
    return this.processes.filter(p => !p.disposed)
  }

  start(): Process {
    const { rotation, refreshTimeout, queueTimeout } = this.#config
    const holder: { process?: Process } = {}
    const fetch = this.world.server.fetchFor(() => holder.process?.disposed === false)
    const process = (holder.process = new Process(`p${++this.#started}`, this.#scheduler, this.redis, { rotation, refreshTimeout, queueTimeout, fetch, lease: this.lease }))
    this.world.watch(process)
    this.processes.push(process)
    this.#scheduler.note(`start ${process.id}`)
    return process
  }

  /** Killed without a goodbye, and started again (a supervisor's restart): a new member reads what Redis holds. */
  crash(process: Process): void {
    process.crash()
    for (const request of this.world.inFlight) if (request.tab === process.id) request.settled = true
    this.start()
  }

  /**
   * Another client of the Redis writes garbage over the name's state. Each process reads it as
   * absent and its next write replaces it. (An old sealed state put back is not drawn: before a
   * fresh process's first read it ends the session, a documented limit, docs/guarantees.md.)
   */
  foreignWrite(): void {
    this.#scheduler.note('foreign write')
    this.redis.space.set(keysOf('sim').state, 'not a sealed state', { px: 3_600_000 })
  }

  /** How long the process's unanswered refresh may still wait for its answer before it is given up for lost (src/core/deadlines.ts LATE_ANSWER_FACTOR), less a margin. */
  #giveUpLeft(process: Process): number {
    const sentAt = process.refreshSentAt
    return sentAt === undefined ? Infinity : sentAt + LATE_ANSWER_FACTOR * this.#config.refreshTimeout - this.#scheduler.now - 100
  }

  /** Paused for a drawn while around the lease: at once, or (`holder`) as the lock's next renewal answers, the moment before it presents the RT. */
  pause(process: Process, holder: boolean): void {
    const random = this.#scheduler.random
    // With a refresh on the wire, shorter than what its renewals keep (see Process.refreshing); a
    // paused holder, long enough for a waiter to take the lock and rotate.
    const [min, max] = process.refreshing
      ? [1, Math.min(this.lease / 2, this.#giveUpLeft(process))]
      : holder
        ? [this.lease * 1.5, this.lease * 8]
        : [this.lease / 2, this.lease * 4]
    // A refresh given up for lost because its process slept through the answer is the documented give-up (3 × refreshTimeout), not drawn (seed 1198).
    if (max < min) return
    const ms = random.int(Math.round(min), Math.round(max))
    const pause = () => {
      this.#scheduler.note(`pause ${process.id} ${ms}`)
      process.pause()
      this.#scheduler.after(ms, `resume ${process.id}`, () => process.resume())
    }
    if (holder) process.pauseOnHold = pause
    else if (!process.paused) pause()
  }
}

function drawConfig(scheduler: Scheduler): WorldConfig {
  const random = scheduler.random
  return {
    transport: 'bearer',
    tabs: random.int(2, 4),
    rotation: random.chance(0.5) ? 'timer' : 'request',
    locks: false,
    refreshTimeout: random.int(1, 5) * 1000,
    queueTimeout: random.int(5, 20) * 1000,
    persist: false,
    hook: 'none',
    redis: { lease: random.weighted(LEASES) },
  }
}

/** One user action or fault, drawn and applied to a process. */
function act(rw: RedisWorld, scheduler: Scheduler): void {
  const random = scheduler.random
  const processes = rw.live()
  const action = random.weighted(ACTIONS)
  const process = processes[random.int(0, processes.length - 1)]!
  scheduler.note(`act ${action} ${process.id}`)
  const { world, redis } = rw
  // The operator logs in again where a process runs (one login, not one queued in each paused
  // process), once the last login landed or failed: a start() waits up to 2 s for the channel's
  // subscription, longer while Redis is down or its process paused, and two logins racing are
  // another story (docs/simulation.md, Processes and Redis).
  const running = processes.find(p => !p.paused)
  if (running && !rw.loginPending() && processes.every(p => p.session.state.status === 'signed-out') && random.chance(0.5)) return rw.login(running)
  switch (action) {
    case 'request':
      return process.run(() => world.request(process))
    case 'rotate':
      return process.run(() => world.rotate(process))
    case 'pause':
    case 'pause-holder':
      return rw.pause(process, action === 'pause-holder')
    case 'crash':
      // Killed while its refresh is unwritten: the documented limit again (see Process.refreshing).
      return void (process.refreshing || rw.crash(process))
    case 'drop':
      // A link down under a refresh on the wire is the documented limit too (see Process.refreshing).
      return void (process.refreshing || redis.dropConnections(process))
    case 'redis-restart':
      return void (world.server.faultsOn && redis.restart(random.int(50, 3000)))
    case 'logout':
      return process.run(() => world.logout(process))
    case 'foreign':
      return rw.foreignWrite()
    case 'restart':
      return void (world.server.faultsOn && world.server.restart())
  }
}

function statesOf(rw: RedisWorld): string[] {
  return rw.live().map(p => `${p.session.state.status}@${p.session.state.status === 'active' ? p.session.state.generation : '-'}`)
}

/** The chunk a session loads on demand, loaded before the first run (see schedule.ts: not when this module loads). */
let preloading: Promise<unknown> | undefined
const preloaded = () => (preloading ??= import('../../src/core/refresh-call.js'))

/** Runs Redis schedule `seed` to its end or its first violation. */
export async function runRedisSchedule(seed: number, options: { zoo?: RedisZoo; maxSteps?: number } = {}): Promise<ScheduleResult> {
  await preloaded()
  const scheduler = new Scheduler(seed)
  const verdict = new Verdict()
  const config = drawConfig(scheduler)
  scheduler.note(`config ${JSON.stringify(config)}`)
  const rw = new RedisWorld(scheduler, verdict, config)
  const { world } = rw
  const escapes = new Escapes()
  escapes.install(scheduler)
  globalThis.__ROTOR_ZOO__ = options.zoo ? new Set([options.zoo]) : undefined
  const active = scheduler.random.int(2, 10) * 60_000
  const quiet = 3 * AT_TTL
  const faultsFrom = scheduler.random.int(0, active)
  const faultsTo = scheduler.random.int(faultsFrom, active)
  const bound = 3 * (config.queueTimeout + config.refreshTimeout * 3 * 3) + 60_000 + 4 * rw.lease
  const maxSteps = options.maxSteps ?? 40_000
  const setFaults = (on: boolean) => () => void ((world.server.faultsOn = on), (rw.redis.faultsOn = on))
  let steps = 0
  try {
    for (let i = 0; i < config.tabs; i++) rw.start()
    rw.login(rw.processes[0]!)
    scheduler.after(faultsFrom, 'faults on', setFaults(true))
    scheduler.after(faultsTo, 'faults off', setFaults(false))
    const user = () => {
      if (scheduler.now < active) act(rw, scheduler)
      if (scheduler.now < active) scheduler.after(scheduler.random.int(100, 20_000), 'user', user)
      else for (const p of rw.live()) p.wake()
    }
    scheduler.after(0, 'user', user)
    while (verdict.ok && (await scheduler.step(active + quiet))) {
      if (++steps > maxSteps) verdict.fail('step-bound', `${maxSteps} steps by ${scheduler.now} ms`, scheduler.now)
      for (const line of world.server.violations.splice(0)) verdict.fail('rt-presented-twice', line, scheduler.now)
      verdict.checkRequests(world.inFlight, scheduler.now, bound)
    }
    while (verdict.ok && new Set(statesOf(rw)).size > 1) {
      if (!(await scheduler.step(active + quiet + CONVERGE_GRACE_MS))) verdict.fail('converges', statesOf(rw).join(' '), scheduler.now)
    }
    for (const line of world.server.violations.splice(0)) verdict.fail('rt-presented-twice', line, scheduler.now)
    if (verdict.ok) checkBudget(world, verdict, scheduler.now)
  } finally {
    for (const p of rw.processes) p.session.dispose()
    escapes.uninstall()
    switchZoo(undefined)
  }
  const stats = { ...world.server.stats, faults: world.server.stats.faults + rw.redis.restarts }
  return { seed, hash: scheduler.hash(), steps, config, violations: verdict.violations, stats, escapes: escapes.seen, trace: scheduler.trace }
}
