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
import type { WorkerConfig, WorkerReport } from '../fixtures/redis-worker.js'

export type { WorkerReport }

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

export type Worker = { child: ChildProcess; id: string; report: WorkerReport | undefined; exited: Promise<number | null> }

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
}

export async function runCluster(options: ClusterOptions): Promise<{ workers: Worker[]; reports: WorkerReport[]; trafficMs: number }> {
  const { workers: n, during, timeout = 60_000, redisFor, ...rest } = options
  const config: WorkerConfig = { concurrency: 2, pause: 20, ...rest }
  const script = await workerScript()
  const workers: Worker[] = []
  const ready: Array<Promise<void>> = []
  const done: Array<Promise<void>> = []
  for (let i = 0; i < n; i++) {
    const child = spawn(process.execPath, [script, JSON.stringify(redisFor ? { ...config, redis: redisFor(i) } : config)], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', chunk => (stderr += chunk))
    const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
    const worker: Worker = { child, id: '', report: undefined, exited }
    workers.push(worker)
    const lines = createInterface({ input: child.stdout! })
    let onReady!: () => void
    let onDone!: () => void
    ready.push(new Promise(resolve => (onReady = resolve)))
    done.push(Promise.race([new Promise<void>(resolve => (onDone = resolve)), exited.then(() => undefined)]))
    lines.on('line', line => {
      let message: { ready?: boolean; id?: string; done?: boolean; report?: WorkerReport }
      try {
        message = JSON.parse(line)
      } catch {
        return
      }
      if (message.ready) {
        worker.id = message.id!
        onReady()
      }
      if (message.done) {
        worker.report = message.report
        onDone()
      }
    })
    void exited.then(code => {
      if (code !== 0 && code !== null && !worker.report) console.error(`worker ${i} exited ${code}:\n${stderr}`)
    })
  }
  const deadline = (ms: number, what: string) =>
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`cluster: ${what} within ${ms} ms`)), ms).unref())
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
}

/** The p-th percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}
