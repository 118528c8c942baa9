/**
 * `npm run demo`: replays FOLIO's failing data import (../shared/seeds: on Eureka with a
 * 3-minute access token, records that began importing after the AT expired failed with
 * 401) against the reference server, scaled to seconds, three times: with a plain fetch,
 * then with Rotor in request mode and in timer mode. Prints progress, a table of what the
 * server saw, and a conclusion computed from the figures.
 *
 *   npm run demo -- --records 600 --at 1 --mode plain,timer
 */
import { parseArgs } from 'node:util'
import cliProgress from 'cli-progress'
import { createAuthServer } from '../src/testing/index.js'
import { MODE_LABELS, MODES, runMode, type Mode, type RunResult } from './import-job.js'

const USAGE = `Usage: npm run demo -- [options]

Replays FOLIO's data import that failed with 401 once the access token expired,
with a plain fetch and with Rotor (request and timer rotation), against the
reference auth server on 127.0.0.1.

Options:
  --records N      records to import                     (default 300)
  --batch N        records per batch, one POST each       (default 10)
  --at SECONDS     access-token lifetime                  (default 2)
  --rt SECONDS     refresh-token lifetime                 (default 60)
  --mode LIST      runs, comma-separated subset of plain,request,timer (default all)
  --no-progress    one line per run instead of progress bars (implied when stdout is not a TTY)
  -h, --help       this help

Each batch takes 150-250 ms of simulated processing. Exit code 1 if a Rotor run
lost records, 2 on bad flags.`

const PROCESSING_MS = [150, 250] as const

class UsageError extends Error {}

interface Config {
  records: number
  batch: number
  at: number
  rt: number
  modes: Mode[]
  progress: boolean
}

function positiveInteger(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${flag} must be a positive integer (got "${value}")`)
  }
  return Number(value)
}

function seconds(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${flag} must be a number of seconds > 0 (got "${value}")`)
  }
  if (n < 0.05) throw new UsageError(`--${flag} must be at least 0.05 seconds (got "${value}")`)
  return n
}

function parseModes(value: string | undefined): Mode[] {
  if (value === undefined) return [...MODES]
  const modes: Mode[] = []
  for (const raw of value.split(',')) {
    const name = raw.trim()
    if (!(MODES as readonly string[]).includes(name)) {
      throw new UsageError(`--mode must be a comma-separated subset of ${MODES.join(',')} (got "${name || value}")`)
    }
    if (!modes.includes(name as Mode)) modes.push(name as Mode)
  }
  return modes
}

function parseConfig(argv: string[]): Config | 'help' {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        records: { type: 'string' },
        batch: { type: 'string' },
        at: { type: 'string' },
        rt: { type: 'string' },
        mode: { type: 'string' },
        'no-progress': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    // parseArgs names the flag: "Unknown option '--foo'", "Option '--at <value>' argument missing"
    throw new UsageError((error as Error).message)
  }
  const v = parsed.values
  if (v.help) return 'help'
  return {
    records: positiveInteger('records', v.records, 300),
    batch: positiveInteger('batch', v.batch, 10),
    at: seconds('at', v.at, 2),
    rt: seconds('rt', v.rt, 60),
    modes: parseModes(v.mode),
    progress: !v['no-progress'] && process.stdout.isTTY === true,
  }
}

// ------------------------------------------------------------------ output

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const secs = (n: number) => `${Number(n.toFixed(2))} s`
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

function table(results: RunResult[]): string {
  const header = ['run', 'records imported', 'records failed', 'refresh calls', '401s served', 'reused RTs refused', 'duration']
  const rows = results.map(r => [r.label, `${r.imported}/${r.records}`, String(r.failed), String(r.refreshCalls), String(r.api401), String(r.reusedRefused), s(r.durationMs)])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(row => (row[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  const rule = widths.map(w => '─'.repeat(w)).join('  ')
  return [line(header), rule, ...rows.map(line)].join('\n')
}

function conclusion(results: RunResult[], cfg: Config): string[] {
  const lines: string[] = []
  const plain = results.find(r => r.mode === 'plain')
  const rotor = results.filter(r => r.mode !== 'plain')
  if (plain) {
    if (plain.failed > 0) {
      const first = plain.firstFailureMs === null ? '' : `, the first 401 came ${s(plain.firstFailureMs)} into the import`
      lines.push(
        `plain fetch lost ${plain.failed} of ${plain.records} records (${Math.round((100 * plain.failed) / plain.records)}%): ` +
          `its ${secs(cfg.at)} access token expired${first} and, with ${plural(plain.refreshCalls, 'refresh', 'refreshes')}, ` +
          `${plural(plain.api401, 'batch was', 'batches were')} refused.`,
      )
    } else {
      lines.push(
        `plain fetch lost nothing: the job took ${s(plain.durationMs)}, within the ${secs(cfg.at)} access-token lifetime ` + `(try a smaller --at or more --records).`,
      )
    }
  }
  const clean = rotor.filter(r => r.failed === 0 && r.api401 === 0 && r.reusedRefused === 0)
  if (rotor.length > 0 && clean.length === rotor.length) {
    const how = rotor.map(r => `${r.mode} mode (${plural(r.refreshCalls, 'refresh', 'refreshes')})`)
    const modes = how.length === 1 ? how[0] : `${how.slice(0, -1).join(', ')} and ${how[how.length - 1]}`
    const allRefreshes = rotor.reduce((n, r) => n + r.refreshCalls, 0)
    const reason = allRefreshes > 0 ? `it rotated the ${secs(cfg.at)} access token before the server could refuse it` : `no rotation was needed`
    lines.push(`Rotor imported all ${rotor[0]?.records} records in ${modes}, with 0 401s served and 0 reused refresh tokens: ${reason}.`)
  } else {
    for (const r of rotor) {
      const outcome = Object.entries(r.statuses)
        .map(([k, n]) => `${k}×${n}`)
        .join(', ')
      lines.push(
        `${r.label}: imported ${r.imported} of ${r.records} records (${r.failed} failed; batches ${outcome}) ` +
          `with ${plural(r.refreshCalls, 'refresh call')}, ${plural(r.api401, '401')} served, ` +
          `${plural(r.reusedRefused, 'reused refresh token')} refused.`,
      )
    }
  }
  return lines
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  let cfg: Config | 'help'
  try {
    cfg = parseConfig(process.argv.slice(2))
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`import-demo: ${error.message}\nRun with --help for the options.\n`)
    return 2
  }
  if (cfg === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }

  const server = createAuthServer({ accessTokenTtl: cfg.at * 1000, refreshTokenTtl: cfg.rt * 1000 })
  const { url, close } = await server.listen()
  const batches = Math.ceil(cfg.records / cfg.batch)
  const estimate = (batches * (PROCESSING_MS[0] + PROCESSING_MS[1])) / 2
  console.log(
    `FOLIO data import, scaled to seconds: ${cfg.records} records in ${batches} batches of ${cfg.batch}, ` +
      `${PROCESSING_MS[0]}-${PROCESSING_MS[1]} ms of processing each (~${s(estimate)} per run).\n` +
      `Access token ${secs(cfg.at)}, refresh token ${secs(cfg.rt)}; reference server at ${url}.\n`,
  )

  let bar: cliProgress.SingleBar | undefined
  const interrupt = () => {
    bar?.stop()
    process.stderr.write('\ninterrupted\n')
    process.exit(130)
  }
  process.once('SIGINT', interrupt)

  const results: RunResult[] = []
  try {
    for (const mode of cfg.modes) {
      const label = MODE_LABELS[mode]
      if (cfg.progress) {
        bar = new cliProgress.SingleBar(
          {
            format: `${label.padEnd(20)} {bar} {value}/{total} records | failed {failed} | refresh calls {refreshes} | {elapsed}`,
            barsize: 30,
            hideCursor: true,
            stream: process.stdout,
            fps: 20,
          },
          cliProgress.Presets.shades_classic,
        )
        bar.start(cfg.records, 0, { failed: 0, refreshes: 0, elapsed: s(0) })
      }
      const started = performance.now()
      const result = await runMode(mode, {
        server,
        url,
        records: cfg.records,
        batch: cfg.batch,
        processingMs: PROCESSING_MS,
        onProgress: p =>
          bar?.update(p.done, {
            failed: p.failed,
            refreshes: server.stats.refreshCalls,
            elapsed: s(performance.now() - started),
          }),
      })
      if (bar) {
        bar.update(result.imported + result.failed, {
          failed: result.failed,
          refreshes: result.refreshCalls,
          elapsed: s(result.durationMs),
        })
        bar.stop()
        bar = undefined
      } else {
        console.log(
          `${label.padEnd(20)} ${result.imported}/${result.records} imported, ${result.failed} failed, ` +
            `${plural(result.refreshCalls, 'refresh call')}, ${plural(result.api401, '401')} served, ${s(result.durationMs)}`,
        )
      }
      results.push(result)
    }
  } finally {
    bar?.stop()
    process.off('SIGINT', interrupt)
    await close()
  }

  console.log(`\n${table(results)}\n`)
  for (const line of conclusion(results, cfg)) console.log(line)
  return results.some(r => r.mode !== 'plain' && r.failed > 0) ? 1 : 0
}

main().then(
  code => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error('import-demo failed:', error)
    process.exitCode = 1
  },
)
