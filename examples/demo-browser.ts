/**
 * `npm run demo:browser`: the reference auth server and a live page of the session
 * (examples/browser/) on one origin. Open the page in several tabs: sign in once and every
 * tab joins; the access and refresh tokens count down and rotate, and each tab shows which
 * tab rotated. Add `?worker` to the address and one rotation worker (a SharedWorker) rotates
 * for every tab instead. The terminal prints what the server saw every few seconds.
 *
 *   npm run demo:browser -- --at 5 --rt 60 --port 8080
 *
 * `startDemo()` starts the same thing programmatically (the page's test uses it).
 */
import { parseArgs } from 'node:util'
import type { AuthServer, AuthServerStats } from '../src/testing/index.js'
import { runIfMain } from './lib/cli.js'
import { bundle, serveApp } from './lib/serve-app.js'

const USAGE = `Usage: npm run demo:browser -- [options]

Starts the reference auth server on 127.0.0.1 with a page showing a live Rotor
session. Open the printed address in several tabs of one browser.

Options:
  --at SECONDS     access-token lifetime     (default 10)
  --rt SECONDS     refresh-token lifetime    (default 120)
  --port N         port to listen on, 0 for any free one (default 0)
  -h, --help       this help

Stop with Ctrl-C. Exit code 2 on bad flags, 1 if the server cannot start.`

export const DEFAULTS = { at: 10, rt: 120, port: 0 } as const

/** How often the terminal gets the server's counters (only when they changed). */
const STATS_EVERY_MS = 5_000

export interface DemoOptions {
  /** Access-token lifetime in seconds. @default 10 */
  at?: number
  /** Refresh-token lifetime in seconds. @default 120 */
  rt?: number
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number
}

export interface Demo {
  /** The page: `http://127.0.0.1:PORT/`. */
  url: string
  /** The reference server: `stats`, `fault()`, `log`, … */
  server: AuthServer
  /** Stops the HTTP server (every socket destroyed). Idempotent. */
  close(): Promise<void>
}

function checkOptions(options: DemoOptions): Required<DemoOptions> {
  const { at = DEFAULTS.at, rt = DEFAULTS.rt, port = DEFAULTS.port } = options
  for (const [name, value] of [
    ['at', at],
    ['rt', rt],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
      throw new RangeError(`startDemo: \`${name}\` must be a number of seconds >= 1 (got ${String(value)})`)
    }
  }
  if (rt <= at) throw new RangeError(`startDemo: \`rt\` (${rt} s) must be longer than \`at\` (${at} s)`)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`startDemo: \`port\` must be an integer from 0 to 65535 (got ${String(port)})`)
  }
  return { at, rt, port }
}

/** Starts the reference server serving the page, its script (it imports the library from ../../src) and its stylesheet. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const { at, rt, port } = checkOptions(options)
  // The rotation worker's script, for the page opened with `?worker`.
  const worker = await bundle(new URL('../src/worker/main.ts', import.meta.url))
  return serveApp({
    dir: new URL('./browser/', import.meta.url),
    entry: 'app.ts',
    esbuild: { sourcemap: 'inline' },
    files: { '/rotor-worker.js': { type: 'text/javascript', body: worker } },
    page: html => html.replace('%TTL%', `${at * 1000},${rt * 1000}`),
    at,
    rt,
    port,
  })
}

// ------------------------------------------------------------------ CLI

class UsageError extends Error {}

function secondsFlag(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 1) {
    throw new UsageError(`--${flag} must be a number of seconds >= 1 (got "${value}")`)
  }
  return n
}

function parseConfig(argv: string[]): Required<DemoOptions> | 'help' {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        at: { type: 'string' },
        rt: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    // parseArgs names the flag: "Unknown option '--foo'", "Option '--at <value>' argument missing"
    throw new UsageError((error as Error).message)
  }
  const v = parsed.values
  if (v.help) return 'help'
  const at = secondsFlag('at', v.at, DEFAULTS.at)
  const rt = secondsFlag('rt', v.rt, DEFAULTS.rt)
  if (rt <= at) throw new UsageError(`--rt (${rt} s) must be longer than --at (${at} s)`)
  let port: number = DEFAULTS.port
  if (v.port !== undefined) {
    port = Number(v.port)
    if (!/^\d+$/.test(v.port.trim()) || port > 65_535) {
      throw new UsageError(`--port must be an integer from 0 to 65535 (got "${v.port}")`)
    }
  }
  return { at, rt, port }
}

const time = () => new Date().toTimeString().slice(0, 8)
const lifetime = (s: number) => (s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`)

function statsLine(s: AuthServerStats): string {
  return (
    `refresh calls ${s.refreshCalls} (granted ${s.refreshGranted}, refused ${s.refreshRefused}) · ` +
    `reused RTs refused ${s.reusedRefused} · 401s served ${s.api401} · API 200s ${s.api200} · ` +
    `logins ${s.logins} · logouts ${s.logouts}`
  )
}

async function main(): Promise<number> {
  let cfg: Required<DemoOptions> | 'help'
  try {
    cfg = parseConfig(process.argv.slice(2))
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`demo-browser: ${error.message}\nRun with --help for the options.\n`)
    return 2
  }
  if (cfg === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }

  let demo: Demo
  try {
    demo = await startDemo(cfg)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const why = code === 'EADDRINUSE' ? `port ${cfg.port} is already in use (try --port 0)` : String((error as Error).message ?? error)
    process.stderr.write(`demo-browser: cannot start: ${why}\n`)
    return 1
  }

  console.log(
    `Rotor live session: reference server with a ${lifetime(cfg.at)} access token and a ${lifetime(cfg.rt)} refresh token.\n` +
      `open ${demo.url} in several tabs (sign in as diku_admin / admin)\n` +
      `or ${demo.url}?worker to have one rotation worker rotate for every tab\n` +
      `Server counters below every ${STATS_EVERY_MS / 1000} s when they change; Ctrl-C to stop.`,
  )

  let last = statsLine(demo.server.stats)
  const ticker = setInterval(() => {
    const line = statsLine(demo.server.stats)
    if (line === last) return
    last = line
    console.log(`${time()}  ${line}`)
  }, STATS_EVERY_MS)

  return new Promise<number>(resolve => {
    let stopping = false
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`demo-browser: ${signal} again, exiting now\n`)
        process.exit(130)
      }
      stopping = true
      clearInterval(ticker)
      console.log(`\n${signal}: stopping the server…`)
      demo.close().then(
        () => {
          console.log(`final: ${statsLine(demo.server.stats)}`)
          resolve(0)
        },
        (error: unknown) => {
          process.stderr.write(`demo-browser: closing failed: ${String(error)}\n`)
          resolve(1)
        },
      )
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

await runIfMain(import.meta.url, 'demo-browser', main)
