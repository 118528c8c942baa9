/**
 * Runs N worker processes (test/fixtures/redis-worker.ts) side by side: waits until every
 * one has joined, starts their traffic at the same moment, lets the caller break something
 * meanwhile, and collects each worker's report. Used by the cluster tests and `npm run bench`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { RoundReport, WorkerConfig, WorkerReport } from '../fixtures/redis-worker.js'

export type { RoundReport, WorkerReport }

const SOURCE = fileURLToPath(new URL('../fixtures/redis-worker.ts', import.meta.url))
const CACHE = fileURLToPath(new URL('../../node_modules/.cache/rotor-auth/', import.meta.url))

let built = 0
/**
 * The worker as one ES module, built for each cluster run (a few hundred ms) and removed
 * after it: eight `node --import tsx` starts side by side took 13 s on 2 cores (each
 * transforms the sources itself). Packages stay external and resolve from node_modules (the
 * bundle is written below it).
 */
async function workerScript(): Promise<string> {
  mkdirSync(CACHE, { recursive: true })
  const outfile = `${CACHE}redis-worker-${process.pid}-${++built}.mjs`
  await build({ entryPoints: [SOURCE], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' })
  return outfile
}

export type Worker = {
  child: ChildProcess
  id: string
  report: WorkerReport | undefined
  exited: Promise<number | null>
  /** Resolves when the worker stopped itself (`stopBeforeRefresh`). */
  stopped: Promise<void>
}

/** Spawns one worker; `onLine` gets each JSON line it prints. */
function spawnWorker(script: string, config: WorkerConfig, onLine: (worker: Worker, message: Record<string, unknown>) => void): Worker {
  const child = spawn(process.execPath, [script, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', chunk => {
    stderr += chunk
    // DEBUG_WORKERS=1: see what a worker that hangs (and is killed later) says.
    if (process.env['DEBUG_WORKERS']) process.stderr.write(chunk)
  })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  let onStopped!: () => void
  const worker: Worker = { child, id: '', report: undefined, exited, stopped: new Promise(resolve => (onStopped = resolve)) }
  createInterface({ input: child.stdout! }).on('line', line => {
    let message: Record<string, unknown>
    try {
      message = JSON.parse(line)
    } catch {
      return
    }
    if (message['stopped']) onStopped()
    onLine(worker, message)
  })
  void exited.then(code => {
    if (code !== 0 && code !== null && !worker.report) console.error(`worker ${child.pid} exited ${code}:\n${stderr}`)
  })
  return worker
}

/** Waits for the workers to exit by themselves; kills (by pid) whatever is left after 5 s. */
async function reap(workers: Worker[]): Promise<void> {
  await Promise.all(
    workers.map(async w => {
      const exited = await Promise.race([w.exited.then(() => true), new Promise<boolean>(resolve => setTimeout(() => resolve(false), 5_000).unref())])
      if (!exited) {
        w.child.kill('SIGKILL')
        await w.exited
      }
    }),
  )
}

const deadline = (ms: number, what: string) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`cluster: ${what} within ${ms} ms`)), ms).unref())

export type ClusterOptions = Omit<WorkerConfig, 'concurrency' | 'pause'> & {
  workers: number
  concurrency?: number
  pause?: number
  /** Runs once every worker's traffic started; the run ends when it and the traffic are done. */
  during?: (workers: Worker[]) => Promise<void>
  /** Longest wait for the workers to start, join and finish. */
  timeout?: number
  /** Worker i's Redis URL, when it differs (through a proxy the test can cut). */
  redisFor?: (i: number) => string
  /** What else differs for worker i. */
  configFor?: (i: number) => Partial<WorkerConfig>
}

export async function runCluster(options: ClusterOptions): Promise<{ workers: Worker[]; reports: WorkerReport[]; trafficMs: number }> {
  const { workers: n, during, timeout = 60_000, redisFor, configFor, ...rest } = options
  const config: WorkerConfig = { concurrency: 2, pause: 20, ...rest }
  const script = await workerScript()
  const workers: Worker[] = []
  const ready: Array<Promise<void>> = []
  const done: Array<Promise<void>> = []
  for (let i = 0; i < n; i++) {
    let onReady!: () => void
    let onDone!: () => void
    ready.push(new Promise(resolve => (onReady = resolve)))
    const own = { ...config, ...(redisFor ? { redis: redisFor(i) } : {}), ...configFor?.(i) }
    const worker = spawnWorker(script, own, (w, message) => {
      if (message['ready']) {
        w.id = message['id'] as string
        onReady()
      }
      if (message['done']) {
        w.report = message['report'] as WorkerReport
        onDone()
      }
    })
    workers.push(worker)
    done.push(Promise.race([new Promise<void>(resolve => (onDone = resolve)), worker.exited.then(() => undefined)]))
  }
  try {
    await Promise.race([Promise.all(ready), deadline(timeout, 'workers not all ready')])
    const started = performance.now()
    for (const w of workers) w.child.stdin!.write('go\n')
    await Promise.race([Promise.all([Promise.all(done), during?.(workers)]), deadline(timeout + config.duration, 'traffic not done')])
    const trafficMs = performance.now() - started
    return { workers, reports: workers.flatMap(w => (w.report ? [w.report] : [])), trafficMs }
  } finally {
    rmSync(script, { force: true })
    // Each worker exits by itself once it reported; whatever is left is killed by its pid.
    await reap(workers)
  }
}

export type Round = { name: string; grant: unknown }

/**
 * Two workers play rounds (WorkerConfig `role`): in each, one logs in with the round's grant
 * while the other creates its session of the round's name, told at the same moment; the
 * joiner sends its requests once the login's are done. `joinRedis`: the joiner's Redis URL
 * (a proxy that slows its new connections). Returns, per round, what each saw.
 */
export async function runRounds(
  config: Omit<WorkerConfig, 'role' | 'duration' | 'concurrency'> & { joinRedis?: string },
  rounds: Round[],
  timeout = 60_000,
): Promise<Array<{ login: RoundReport; join: RoundReport }>> {
  const { joinRedis, ...shared } = config
  const script = await workerScript()
  const queues = new Map<Worker, Array<(report: RoundReport) => void>>()
  const readies: Array<Promise<void>> = []
  const spawnRole = (role: 'login' | 'join') => {
    let onReady!: () => void
    readies.push(new Promise(resolve => (onReady = resolve)))
    const redis = role === 'join' && joinRedis ? joinRedis : shared.redis
    const worker = spawnWorker(script, { ...shared, ...(redis ? { redis } : {}), role, duration: 0, concurrency: 1 }, (w, message) => {
      if (message['ready']) onReady()
      if (message['round']) queues.get(w)!.shift()?.(message['round'] as RoundReport)
    })
    queues.set(worker, [])
    return worker
  }
  const login = spawnRole('login')
  const join = spawnRole('join')
  const next = (w: Worker) => new Promise<RoundReport>(resolve => queues.get(w)!.push(resolve))
  try {
    await Promise.race([Promise.all(readies), deadline(timeout, 'round workers not ready')])
    const results: Array<{ login: RoundReport; join: RoundReport }> = []
    for (const round of rounds) {
      const logged = next(login)
      const joined = next(join)
      // Both lines in one turn of this process: the two children learn of the round together.
      login.child.stdin!.write(`${JSON.stringify(round)}\n`)
      join.child.stdin!.write(`${JSON.stringify({ name: round.name })}\n`)
      const l = await Promise.race([logged, deadline(timeout, 'login round not done')])
      // The login is done (and its requests answered): now the joiner sends.
      join.child.stdin!.write('send\n')
      const j = await Promise.race([joined, deadline(timeout, 'join round not done')])
      results.push({ login: l, join: j })
    }
    for (const w of [login, join]) w.child.stdin!.write('end\n')
    return results
  } finally {
    rmSync(script, { force: true })
    await reap([login, join])
  }
}

/** The p-th percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}
