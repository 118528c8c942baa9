/**
 * `npm run bench`: every scenario in one run, one table each, then bench/RESULTS.md.
 * `npm run bench -- soak size` runs only the scenarios named; `npm run bench -- --quick` runs
 * fewer paired runs and smaller sweeps (bench/lib/mode.ts); `--tabs=N --tab-seconds=S` size
 * the real-tab scenario (bench/tabs.ts), `--rotation=timer|request` runs one of its modes.
 * `npm run bench -- overhead --baseline=<git-ref>` adds Rotor as it was at that commit to the
 * overhead scenario, paired in the same runs: the before/after comparison (bench/lib/baseline.ts).
 * RESULTS.md is written only by a full run of every scenario. `BENCH_NOTES=1` prints each scenario's
 * notes too (the latency scenario's shares: where the wait goes), which only RESULTS.md holds otherwise.
 *
 * Runs under `node --expose-gc --import tsx` so the burst scenario can measure heap per
 * queued request and the overhead scenario can start each task from a collected heap.
 */
import { execSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { runBurst } from './burst.js'
import { runClusterBench } from './cluster.js'
import { runDpop } from './dpop.js'
import { runLatency } from './latency.js'
import { runOverhead } from './overhead.js'
import { runSize } from './size.js'
import { runSoak } from './soak.js'
import { runTabs } from './tabs.js'
import { QUICK } from './lib/mode.js'
import { toMarkdown, toText, type Section, type Target } from './table.js'
import { sizeTargets, targetsOf, verdictTable } from './lib/targets.js'

const SCENARIOS: Record<string, () => Promise<Section>> = {
  overhead: runOverhead,
  burst: runBurst,
  soak: runSoak,
  tabs: runTabs,
  size: async () => sizeTargets(await runSize()),
  latency: runLatency,
  cluster: runClusterBench,
  dpop: runDpop,
}

function git(args: string): string | undefined {
  try {
    return execSync(`git ${args}`, { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return undefined
  }
}

function machine(): string[] {
  const cpus = os.cpus()
  const changed = git('status --porcelain -- src')?.split('\n').filter(Boolean).length ?? 0
  return [
    `- CPU: ${cpus[0]?.model.trim() ?? 'unknown'} × ${cpus.length} logical cores (os.cpus())`,
    `- Memory: ${Math.round(os.totalmem() / 2 ** 30)} GiB; OS: ${os.type()} ${os.release()} ${os.arch()}`,
    `- Node ${process.version}; gc exposed: ${typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'yes' : 'no'}`,
    `- Load average at start (1/5/15 min): ${os
      .loadavg()
      .map(l => l.toFixed(2))
      .join(' / ')} — the machine is shared; timings are noisy when it is busy`,
    `- Date: ${new Date().toISOString()}`,
    `- Source: commit ${git('rev-parse --short HEAD') ?? 'unknown'}${changed ? `, with ${changed} uncommitted change(s) under src/ (measured as they were)` : ''}`,
  ]
}

function print(section: Section, seconds: number): void {
  console.log(`\n== ${section.title} (${seconds.toFixed(1)} s)\n`)
  console.log(toText(section.table))
  console.log('')
  for (const v of section.verdicts) console.log(`  ${v}`)
  if (process.env.BENCH_NOTES) for (const n of section.notes ?? []) console.log(n)
}

function markdown(section: Section): string {
  return [
    `## ${section.title}`,
    '',
    section.method,
    '',
    toMarkdown(section.table),
    '',
    ...section.verdicts.map(v => `- ${v}`),
    ...(section.notes?.length ? ['', ...section.notes] : []),
    '',
  ].join('\n')
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter(arg => !arg.startsWith('--'))
  const unknown = wanted.filter(name => !(name in SCENARIOS))
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; choose from ${Object.keys(SCENARIOS).join(', ')}`)
  const names = wanted.length ? wanted : Object.keys(SCENARIOS)
  const header = machine()
  console.log(header.join('\n'))

  const sections: Section[] = []
  const runStarted = performance.now()
  let failures = 0
  for (const name of names) {
    const started = performance.now()
    let section: Section
    try {
      section = await SCENARIOS[name]!()
    } catch (error) {
      failures++
      console.error(`\n== ${name}: FAILED\n`, error)
      section = {
        title: name,
        method: '',
        table: { columns: ['error'], rows: [[String((error as Error)?.stack ?? error).split('\n')[0]!]] },
        verdicts: ['The scenario crashed: see the error above.'],
        targets: [{ target: `${name} scenario`, met: false, figure: 'crashed' }],
      }
    }
    print(section, (performance.now() - started) / 1000)
    sections.push(section)
  }

  const loadAtEnd = `- Load average at end (1/5/15 min): ${os
    .loadavg()
    .map(l => l.toFixed(2))
    .join(' / ')}`
  const total = `- Total run time: ${((performance.now() - runStarted) / 60_000).toFixed(1)} min (budget 10 min)`
  const targets: Array<Target & { scenario: string }> = sections.flatMap(s => targetsOf(s).map(t => ({ ...t, scenario: s.title })))
  console.log(`\n${loadAtEnd}\n${total}\n`)
  for (const t of targets) console.log(`  ${t.met === undefined ? '–' : t.met ? '✓' : '✗'} ${t.target}: ${t.figure}`)
  // RESULTS.md holds every scenario in full: a run of one rotation mode (`--rotation=`) is partial.
  if (!wanted.length && !QUICK && !process.argv.some(arg => arg.startsWith('--rotation='))) {
    const results = [
      '# Rotor benchmarks',
      '',
      'Written by `npm run bench` (bench/run.ts); every figure below comes from that one run. Re-run to refresh.',
      '',
      '## Machine',
      '',
      ...header,
      loadAtEnd,
      total,
      '',
      '## Verdicts',
      '',
      'One line per target of the project (✓ met, ✗ missed, – not decided in this run), each from the section below it names.',
      '',
      ...verdictTable(targets),
      '',
      '## Every verdict, by scenario',
      '',
      ...sections.flatMap(s => s.verdicts.map(v => `- **${s.title}** — ${v}`)),
      '',
      ...sections.map(markdown),
    ].join('\n')
    const path = fileURLToPath(new URL('RESULTS.md', import.meta.url))
    writeFileSync(path, results)
    console.log(`\nwrote ${path}`)
  }
  if (failures) process.exitCode = 1
}

await main()
