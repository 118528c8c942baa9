/** `npm run sim -- --seed S --schedules N [--jobs J] [--progress P] [--no-locks] [--extended] [--zoo Z] [--redis] [--worker] [--sockets] [--trace] [--hashes]`: runs schedules from seed S and prints one replay command per failure. */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { REDIS_ZOO, runRedisSchedule, type RedisZoo } from './redis-world.js'
import { runSchedule, type ScheduleResult } from './schedule.js'
import { ZOO, type Zoo } from './zoo.js'

/*
 * Standard output is the run's deterministic account (traces, hashes, failures with their
 * replay command, the closing count, escapes), byte-identical across replays of one seed range;
 * what varies from run to run (schedules/s, memory) goes to standard error. A child of `--jobs`
 * adds machine lines starting with `@` that its parent reads.
 */
const USAGE =
  'usage: npm run sim -- --seed <integer> --schedules <count ≥ 1> [--jobs <1–64>] [--progress <every n>] [--no-locks] [--extended] [--zoo <defect>] [--redis] [--worker] [--sockets] [--trace] [--hashes]'

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    schedules: { type: 'string', default: '100' },
    jobs: { type: 'string', default: '1' },
    progress: { type: 'string', default: '10000' },
    'no-locks': { type: 'boolean', default: false },
    extended: { type: 'boolean', default: false },
    zoo: { type: 'string' },
    /** Node processes on the Redis coordinator instead of tabs (redis-world.ts). */
    redis: { type: 'boolean', default: false },
    /** Tabs behind the rotation worker (shared-worker.ts). */
    worker: { type: 'boolean', default: false },
    /** Every tab keeps a socket and an event stream open (sockets.ts). */
    sockets: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    hashes: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
  },
})
const first = Number(values.seed)
const count = Number(values.schedules)
const jobs = Number(values.jobs)
const every = Number(values.progress)
const zoo = values.zoo as Zoo | RedisZoo | undefined
/** The defects a world can switch on: the tabs' zoo, or with --redis the processes'. */
const zooOf: readonly string[] = values.redis ? Object.keys(REDIS_ZOO) : ZOO
const valid = [first, count, jobs, every].every(Number.isSafeInteger) && count >= 1 && jobs >= 1 && jobs <= 64 && every >= 1 && (zoo === undefined || zooOf.includes(zoo))
if (!valid) {
  console.error(USAGE)
  process.exit(2)
}
const locks = !values['no-locks']
/** The flags that change what a seed draws (the model), carried by every replay and rerun command and every child. */
const modelFlags = [
  ...(locks ? [] : ['--no-locks']),
  ...(values.extended ? ['--extended'] : []),
  ...(zoo ? ['--zoo', zoo] : []),
  ...(values.redis ? ['--redis'] : []),
  ...(values.worker ? ['--worker'] : []),
  ...(values.sockets ? ['--sockets'] : []),
]
const modelSuffix = modelFlags.map(flag => ` ${flag}`).join('')
const started = performance.now()

const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`
const rate = (done: number) => (done / ((performance.now() - started) / 1000)).toFixed(1)

/** The lines a failed schedule prints: what broke, where, and the command that replays it. */
function failureLines(result: ScheduleResult): string[] {
  const { invariant, detail, at } = result.violations[0]!
  return [
    `FAIL seed ${result.seed} [${invariant}] at ${at} ms: ${detail} (trace ${result.hash}, ${result.steps} steps)`,
    `  replay: npm run sim -- --seed ${result.seed} --schedules 1${modelSuffix} --trace`,
  ]
}

/** Runs `count` schedules from `first` in this process; returns how many failed. Memory stays flat: nothing of a run is kept but its escapes, counted by place. */
async function runHere(escapes: Map<string, number>, totals: Totals): Promise<number> {
  let failed = 0
  for (let i = 0; i < count; i++) {
    const seed = (first + i) | 0
    const result = values.redis
      ? await runRedisSchedule(seed, zoo ? { zoo: zoo as RedisZoo } : {})
      : await runSchedule(seed, { locks, extended: values.extended, worker: values.worker, sockets: values.sockets, ...(zoo ? { zoo: zoo as Zoo } : {}) })
    for (const [where, n] of result.escapes) escapes.set(where, (escapes.get(where) ?? 0) + n)
    totals.refreshes += result.stats.refreshGranted
    totals.faults += result.stats.faults
    if (values.trace) console.log(`${result.trace.join('\n')}\ntrace ${result.hash}`)
    if (values.hashes) console.log(`seed ${seed} trace ${result.hash} steps ${result.steps}${result.violations[0] ? ` ${result.violations[0].invariant}` : ''}`)
    if (result.violations.length > 0) {
      failed++
      console.log(failureLines(result).join('\n'))
    }
    if ((i + 1) % every !== 0 || i + 1 === count) continue
    if (values.child) console.log(`@progress ${i + 1} ${failed} ${process.memoryUsage().rss}`)
    else console.error(`… ${i + 1}/${count} schedules, ${failed} failed, ${rate(i + 1)}/s, rss ${mb(process.memoryUsage().rss)}`)
  }
  return failed
}

type Child = { done: number; failed: number; rss: number }
/** What the schedules did, summed: proof that a run exercised something. */
type Totals = { refreshes: number; faults: number }

/** Runs one child process over seeds [from, from + n): its failures are printed as they come, its progress and escapes summed by the parent. */
function runChild(from: number, n: number, state: Child, report: () => void, escapes: Map<string, number>, totals: Totals): Promise<number> {
  const args = [process.argv[1]!, '--child', '--seed', String(from), '--schedules', String(n), '--progress', String(Math.max(1, Math.floor(every / jobs)))]
  args.push(...modelFlags)
  const child = spawn(process.execPath, [...process.execArgv, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let finished = false
  createInterface({ input: child.stdout }).on('line', line => {
    const [tag, a = '', b = '', c = ''] = line.split(' ')
    if (tag === '@done') finished = true
    if (tag === '@progress') return void (Object.assign(state, { done: Number(a), failed: Number(b), rss: Number(c) }), report())
    if (tag === '@done') return void (Object.assign(state, { done: n, failed: Number(a) }), (totals.refreshes += Number(b)), (totals.faults += Number(c)))
    const escape = /^@escape (\d+) (.*)$/.exec(line)
    if (escape) return void escapes.set(escape[2]!, (escapes.get(escape[2]!) ?? 0) + Number(escape[1]))
    console.log(line)
  })
  return new Promise(resolve =>
    child.on('close', code => {
      if (finished && (code === 0 || code === 1)) return resolve(state.failed)
      // A job that died (out of memory, killed, an unhandled rejection: exit code 1 too, but no
      // closing line) is a failure of its whole range, said with the command that reruns it.
      console.log(`FAIL job of seeds ${from}…${from + n - 1} exited with code ${code} after ${state.done} schedules`)
      console.log(`  rerun: npm run sim -- --seed ${from} --schedules ${n}${modelSuffix}`)
      resolve(state.failed + 1)
    }),
  )
}

/**
 * A child runs at most this many schedules, then a fresh one takes the next range: a process's
 * memory grows by about 12 KB a schedule (compiled code, not kept state), so a million in one
 * process would want gigabytes, and a fresh process per range keeps the run flat however long.
 */
const RANGE = 20_000

/** Splits the seeds into ranges of at most RANGE and keeps `jobs` child processes busy with them, in seed order, until all are done. */
async function runJobs(escapes: Map<string, number>, totals: Totals): Promise<number> {
  const states: Child[] = []
  let reported = 0
  const report = () => {
    const done = states.reduce((sum, s) => sum + s.done, 0)
    if (done - reported < every && done < count) return
    reported = done
    const failed = states.reduce((sum, s) => sum + s.failed, 0)
    const rss = Math.max(...states.map(s => s.rss))
    console.error(`… ${done}/${count} schedules, ${failed} failed, ${rate(done)}/s, rss per job ≤ ${mb(rss)}`)
  }
  const size = Math.min(RANGE, Math.ceil(count / jobs))
  let next = 0
  const job = async (): Promise<number> => {
    let failed = 0
    while (next < count) {
      const from = next
      const n = Math.min(size, count - from)
      next += n
      const state: Child = { done: 0, failed: 0, rss: 0 }
      states.push(state)
      failed += await runChild((first + from) | 0, n, state, report, escapes, totals)
    }
    return failed
  }
  const runs = Array.from({ length: Math.min(jobs, Math.ceil(count / size)) }, job)
  return (await Promise.all(runs)).reduce((sum, n) => sum + n, 0)
}

const escapes = new Map<string, number>()
const totals: Totals = { refreshes: 0, faults: 0 }
const failed = jobs > 1 && !values.trace && !values.hashes ? await runJobs(escapes, totals) : await runHere(escapes, totals)
if (values.child) {
  for (const [where, n] of escapes) console.log(`@escape ${n} ${where}`)
  console.log(`@done ${failed} ${totals.refreshes} ${totals.faults}`)
} else {
  console.log(`${count} schedules from seed ${first}: ${failed} failed, ${totals.refreshes} refreshes granted, ${totals.faults} faults drawn`)
  for (const [where, n] of [...escapes].sort()) console.log(`real-time escape: ${where} ×${n}`)
  console.error(`${rate(count)} schedules/s, rss ${mb(process.memoryUsage().rss)}`)
}
process.exitCode = failed > 0 ? 1 : 0
