/**
 * Paired timing: the tasks of one comparison alternate within each round of one process, so
 * a busy shared machine slows them alike and their ratio stays meaningful where absolute
 * times do not. A batch is timed by the process's CPU time by default: with the cores shared,
 * wall time also counts whatever time the batch spent descheduled, which lands on one task of
 * the pair at random (at a load average of 15 on 2 cores, one task's median moved 1.3× between
 * two runs by wall time).
 */
import { median } from './mode.js'

/** The process's CPU time (user + system, every thread: GC helpers included) in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

const wallMs = () => performance.now()

export type Task = { name: string; one: () => Promise<unknown> }

export type PairedResult = {
  /** Per task, per run, per round: milliseconds (CPU, or wall with `clock: 'wall'`) that round's batch of the task took. */
  took: Map<string, number[][]>
  /** Calls per task per run. */
  calls: number
}

/**
 * The per-run ratios of task `a` to task `b`: within each round the two batches ran back to
 * back, so their ratio is paired; a run's ratio is the median over its rounds, which a burst
 * of load from another process during one round cannot move.
 */
export function ratios(result: PairedResult, a: Task, b: Task): number[] {
  const ta = result.took.get(a.name)!
  const tb = result.took.get(b.name)!
  return ta.map((rounds, run) => median(rounds.map((ms, round) => ms / tb[run]![round]!)))
}

/** ns per call of a task, median over runs. */
export function nsPerCall(result: PairedResult, task: Task): number {
  return median(result.took.get(task.name)!.map(rounds => (rounds.reduce((a, b) => a + b, 0) * 1e6) / result.calls))
}

/**
 * `runs` independent runs; each run is `rounds` rounds, each round timing one batch of
 * `batch` sequential calls per task back to back, the order rotated every round so no task
 * always follows the same one. The heap is collected before each run (not within it: every
 * task pays its own share of minor GCs).
 */
export async function paired(tasks: Task[], options: { runs: number; rounds: number; batch: number; clock?: 'cpu' | 'wall' }): Promise<PairedResult> {
  const { runs, rounds, batch } = options
  // 'wall' for tasks that wait on something outside the process (real sockets).
  const clock = options.clock === 'wall' ? wallMs : cpuMs
  const gc = (globalThis as { gc?: () => void }).gc
  const took = new Map(tasks.map(t => [t.name, [] as number[][]]))
  // Warm-up: every path JIT-compiled before anything is timed.
  for (const task of tasks) for (let k = 0; k < batch; k++) await task.one()
  for (let run = 0; run < runs; run++) {
    gc?.()
    for (const task of tasks) took.get(task.name)!.push([])
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < tasks.length; i++) {
        const { name, one } = tasks[(i + round + run) % tasks.length]!
        const started = clock()
        for (let k = 0; k < batch; k++) await one()
        took.get(name)![run]!.push(clock() - started)
      }
    }
  }
  return { took, calls: rounds * batch }
}
