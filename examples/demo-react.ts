/**
 * `npm run demo:react`: the reference auth server and the React example (examples/react/) on
 * one origin. The app takes Stripes-style settings (`config.rtr`, duration strings) through
 * `fromStripesConfig`. Open it in two tabs: sign in once, stop touching the page and the
 * "Keep working?" modal shows in both; near the end of the refresh token the session-ending
 * banner shows in both, and at its end both tabs go back to the login form.
 *
 *   npm run demo:react -- --rt 120 --idle 1m --idle-modal 30s --fls-warning 45s --port 8080
 *
 * `startReactDemo()` starts the same thing programmatically (the example's test uses it).
 */
import { parseArgs } from 'node:util'
import type { StripesRtrConfig } from '../src/folio/index.js'
import { parseDuration } from '../src/folio/index.js'
import type { AuthServer } from '../src/testing/index.js'
import { runIfMain } from './lib/cli.js'
import { serveApp } from './lib/serve-app.js'

const USAGE = `Usage: npm run demo:react -- [options]

Starts the reference auth server on 127.0.0.1 with the React example. Open the printed
address in several tabs of one browser and sign in as diku_admin / admin.

Options:
  --at SECONDS          access-token lifetime              (default 60)
  --rt SECONDS          refresh-token lifetime             (default 180)
  --idle DURATION       config.rtr.idleSessionTTL           (default 1m)
  --idle-modal DURATION config.rtr.idleModalTTL             (default 30s)
  --fls-warning DURATION config.rtr.fixedLengthSessionWarningTTL (default 1m)
  --port N              port, 0 for any free one           (default 0)
  -h, --help            this help

Durations are Stripes' ("90s", "2m", "1h") or ms. Stop with Ctrl-C.`

export interface ReactDemoOptions {
  /** Access-token lifetime in seconds. @default 60 */
  at?: number
  /** Refresh-token lifetime in seconds. @default 180 */
  rt?: number
  /** The app's `config.rtr` (Stripes durations). @default idle 1m, modal 30s, warning 1m */
  rtr?: StripesRtrConfig
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number
}

export interface ReactDemo {
  /** The app: `http://127.0.0.1:PORT/`. */
  url: string
  server: AuthServer
  close(): Promise<void>
}

const DEFAULT_RTR: StripesRtrConfig = { idleSessionTTL: '1m', idleModalTTL: '30s', fixedLengthSessionWarningTTL: '1m', activityEvents: ['keydown', 'mousedown'] }

export async function startReactDemo(options: ReactDemoOptions = {}): Promise<ReactDemo> {
  const { at = 60, rt = 180, rtr = DEFAULT_RTR, port = 0 } = options
  // An AT that outlives the RT is allowed: in request mode that is how a session reaches its end.
  if (!(at >= 1) || !(rt >= 1)) throw new RangeError(`startReactDemo: \`at\` and \`rt\` are seconds >= 1 (got at ${at}, rt ${rt})`)
  return serveApp({
    dir: new URL('./react/', import.meta.url),
    entry: 'app.tsx',
    // React included, as a production build: no `process` in a page.
    esbuild: { jsx: 'automatic', define: { 'process.env.NODE_ENV': '"production"' }, minify: true },
    // `<` escaped: the settings sit inside a <script> element.
    page: html => html.replace('%CONFIG%', JSON.stringify({ tenant: 'diku', rtr }).replace(/</g, '\\u003c')),
    at,
    rt,
    port,
  })
}

// ------------------------------------------------------------------ CLI

function main(argv: string[]): Promise<number> | number {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        at: { type: 'string' },
        rt: { type: 'string' },
        idle: { type: 'string' },
        'idle-modal': { type: 'string' },
        'fls-warning': { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    process.stderr.write(`demo-react: ${(error as Error).message}\nRun with --help for the options.\n`)
    return 2
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const seconds = (flag: string, value: string | undefined, fallback: number) => {
    const n = value === undefined ? fallback : Number(value)
    if (!Number.isFinite(n) || n < 1) throw new RangeError(`--${flag} must be a number of seconds >= 1 (got "${value}")`)
    return n
  }
  let options: ReactDemoOptions
  try {
    const rtr: StripesRtrConfig = {
      ...DEFAULT_RTR,
      ...(values.idle !== undefined && { idleSessionTTL: values.idle }),
      ...(values['idle-modal'] !== undefined && { idleModalTTL: values['idle-modal'] }),
      ...(values['fls-warning'] !== undefined && { fixedLengthSessionWarningTTL: values['fls-warning'] }),
    }
    // Checked here, with the flag's key in the message, before a page fails on it.
    for (const key of ['idleSessionTTL', 'idleModalTTL', 'fixedLengthSessionWarningTTL'] as const) parseDuration(rtr[key], `config.rtr.${key}`)
    options = { at: seconds('at', values.at, 60), rt: seconds('rt', values.rt, 180), rtr, port: Number(values.port ?? 0) }
  } catch (error) {
    process.stderr.write(`demo-react: ${(error as Error).message}\n`)
    return 2
  }
  return startReactDemo(options).then(demo => {
    console.log(`Rotor React example: open ${demo.url} in two tabs (diku_admin / admin); Ctrl-C to stop.`)
    return new Promise<number>(resolve => {
      const stop = () => void demo.close().then(() => resolve(0))
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
  })
}

await runIfMain(import.meta.url, 'demo-react', () => main(process.argv.slice(2)))
