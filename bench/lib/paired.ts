/**
 * Paired timing: the tasks of one comparison alternate within each round of one process, so
 * a busy shared machine slows them alike and their ratio stays meaningful where absolute
 * times do not.
 */
import { median } from './mode.js'

export type Task = { name: string; one: () => Promise<unknown> }

export type PairedResult = {
  /** Per task, per run: milliseconds the run's batches of that task took in all. */
  took: Map<string, number[]>
  /** Calls per task per run. */
  calls: number
}

/** The per-run ratios of task `a` to task `b`, measured in the same runs. */
export function ratios(result: PairedResult, a: Task, b: Task): number[] {
  const ta = result.took.get(a.name)!
  const tb = result.took.get(b.name)!
  return ta.map((ms, run) => ms / tb[run]!)
}

/** ns per call of a task, median over runs. */
export function nsPerCall(result: PairedResult, task: Task): number {
  return median(result.took.get(task.name)!.map(ms => (ms * 1e6) / result.calls))
}

/**
 * `runs` independent runs; each run is `rounds` rounds, each round timing one batch of
 * `batch` sequential calls per task back to back, the order rotated every round so no task
 * always follows the same one. A ratio is taken within each run (summed times), so every
 * ratio has one value per run. The heap is collected before each run (not within it: every
 * task pays its own share of minor GCs).
 */
export async function paired(tasks: Task[], options: { runs: number; rounds: number; batch: number }): Promise<PairedResult> {
  const { runs, rounds, batch } = options
  const gc = (globalThis as { gc?: () => void }).gc
  const took = new Map(tasks.map(t => [t.name, [] as number[]]))
  // Warm-up: every path JIT-compiled before anything is timed.
  for (const task of tasks) for (let k = 0; k < batch; k++) await task.one()
  for (let run = 0; run < runs; run++) {
    gc?.()
    const total = new Map(tasks.map(t => [t.name, 0]))
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < tasks.length; i++) {
        const { name, one } = tasks[(i + round + run) % tasks.length]!
        const started = performance.now()
        for (let k = 0; k < batch; k++) await one()
        total.set(name, total.get(name)! + performance.now() - started)
      }
    }
    for (const task of tasks) took.get(task.name)!.push(total.get(task.name)!)
  }
  return { took, calls: rounds * batch }
}
