import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'esbuild'
import { minify, type MinifyOptions } from 'terser'
import { defineConfig, type Options } from 'tsup'

/**
 * rotor-auth/folio imports the main entry; built, it imports the package itself (a package
 * may name itself through its `exports`), so an app that uses both loads one copy of the
 * session, not a second one bundled into the folio entry.
 */
const mainAsPackage = {
  name: 'main-as-package',
  setup(build: { onResolve: (o: { filter: RegExp }, f: (a: { importer: string }) => { path: string; external: boolean } | undefined) => void }) {
    build.onResolve({ filter: /^\.\.\/index\.js$/ }, args => (/[\\/]src[\\/]folio[\\/]/.test(args.importer) ? { path: 'rotor-auth', external: true } : undefined))
  },
}

/**
 * What the rotation worker's script never runs, each replaced there by a module that fails if
 * it ever did (test/browser/worker.test.ts runs the script built this way). The hub hands its session the hub's own coordinator (src/worker/hub-session.ts),
 * so the page's coordinators are dead code in the worker: the local one (channel, locks,
 * storage, and leader election with broadcast-channel) and the tab's side of the worker
 * (via-worker.ts and the tab.ts it loads). docs/performance.md has the figures.
 */
/** `contents`: the module that stands in, where throwing exports would not do (createSession calls them). */
export const NOT_IN_WORKER: Array<{ importer: RegExp; path: string; exports: string[]; contents?: string }> = [
  { importer: /[\\/]src[\\/]session\.ts$/, path: './coordinator/local.js', exports: ['createLocalCoordinator'] },
  { importer: /[\\/]src[\\/]session\.ts$/, path: './worker/via-worker.js', exports: ['viaWorker'] },
  // Options the hub never gives its session (src/worker/hub-session.ts): `idle`, `sessionEnding`,
  // `debug` and `dpop` (it signs through its `fetch`); and no tab calls its session's install().
  { importer: /[\\/]src[\\/]session\.ts$/, path: './core/on-demand.js', exports: ['idleOnDemand', 'endingOnDemand'] },
  { importer: /[\\/]src[\\/]session\.ts$/, path: './trace/sink.js', exports: ['attach'] },
  { importer: /[\\/]src[\\/]session\.ts$/, path: './dpop/session.js', exports: ['dpopOf'] },
  { importer: /[\\/]src[\\/]session\.ts$/, path: './interceptors/install.js', exports: ['installOn'] },
  // The page's option validator (and its messages): the page checked its options before sending
  // them, and the hub checks the shape of what a port posted and builds the Config itself
  // (src/worker/hub-config.ts, which test/worker/hub-config.test.ts holds equal to normalizeOptions).
  {
    importer: /[\\/]src[\\/]session\.ts$/,
    path: './core/options.js',
    exports: ['normalizeOptions'],
    contents: "export { configOf as normalizeOptions } from './worker/hub-config.ts'",
  },
  // The trace: the worker's session answers a tab's `trace({ tabs: true })` with its entries, and
  // never asks (nothing calls its session's trace()): the merging and the entry checks stay out.
  {
    importer: /[\\/]src[\\/]session\.ts$/,
    path: './trace/peers.js',
    exports: ['heard', 'ask'],
    contents: `import { fail } from 'not-in-worker:fail'
export { answer as heard } from './trace/peers.ts'
export const ask = fail('trace({ tabs: true })')`,
  },
  // The waits of sockets and streams (session.ready(), accessToken(), authFailed()) and the gate
  // that holds requests: no request waits in the worker's session (the tabs hold their own), so
  // the gate is one that never holds: `pump` (a retry's nudge) does nothing, a wait fails.
  {
    importer: /[\\/]src[\\/]session\.ts$/,
    path: './core/gate.js',
    exports: ['Gate'],
    contents: 'export class Gate { pump() {} }',
  },
  { importer: /[\\/]src[\\/]session\.ts$/, path: './core/waits.js', exports: ['createWaits'], contents: 'export const createWaits = () => ({})' },
  // The messages of session.on() called with a bad event or listener: the hub listens to no event of its session.
  { importer: /[\\/]src[\\/]core[\\/]state\.ts$/, path: '../utils/option-errors.js', exports: ['closest', 'shown'] },
  // A refusal's body, redacted, for the message of the worker's RefreshRefusedError: no one reads
  // the worker's errors (no tab hears them; its trace keeps their code and status), so its
  // refusals say the status alone, and nothing a server echoed can carry a token.
  { importer: /[\\/]src[\\/]core[\\/]refresh-call\.ts$/, path: '../utils/redact.js', exports: ['excerpt'], contents: "export const excerpt = () => ''" },
  // The roll call's early end: the hub's member of the shared state cannot list live peers
  // (no livePeers()), so its probe is the plain one: ask, and wait for a newer generation or the time.
  {
    importer: /[\\/]src[\\/]core[\\/]sync\.ts$/,
    path: './roll-call.js',
    exports: ['RollCall'],
    contents: `export class RollCall {
  constructor(o) { this.o = o }
  call(ms, done) { this.o.coordinator.post({ type: 'hello' }); return this.o.waiters.until(done, ms) }
  heard() {}
  holding() {}
}`,
  },
  // The order of a blind login against an older logout (sim seed 993927): it settles what tabs
  // tell each other on the channel, which the hub's session never hears (its tabs reach it by
  // port, and a tab back from a fallback is reconciled by src/worker/link.ts, where a logout on
  // either side stands). Without it, the worker's logouts carry no login mark, so a page judging
  // one keeps today's rule: the logout wins. 436 B min+gzip the worker's script would carry.
  {
    importer: /[\\/]src[\\/]core[\\/]sync\.ts$/,
    path: './login-order.js',
    exports: ['EndedLogins', 'endOf', 'newerSession', 'outlives', 'owes'],
    contents:
      'export class EndedLogins { hear() {} }\nexport const endOf = () => ({})\nexport const newerSession = () => false\nexport const outlives = () => false\nexport const owes = () => false',
  },
  // The page's request path: the hub's session only rotates (the tabs send their own requests).
  // createSession still builds one: there the interception is an empty object and the session's
  // fetch throws if ever called; replayableBody is the real one (the hub's own fetch uses it).
  {
    importer: /[\\/]src[\\/]session\.ts$/,
    path: './interceptors/interception.js',
    exports: ['createInterception'],
    contents: 'export const createInterception = () => ({})',
  },
  {
    importer: /[\\/]src[\\/]session\.ts$/,
    path: './interceptors/fetch.js',
    exports: ['createFetch', 'replayableBody'],
    contents: `import { fail } from 'not-in-worker:fail'
export { replayableBody } from './interceptors/fetch.ts'
export const createFetch = () => fail('session.fetch')`,
  },
  // The loop guard marks the session's calls so that its interceptors can spot one coming back:
  // the hub's session has none (above), so its calls go out as they are.
  {
    importer: /[\\/]src[\\/]session\.ts$/,
    path: './interceptors/loop-guard.js',
    exports: ['createLoopGuard'],
    contents:
      'export const createLoopGuard = underlying => { const call = (input, init) => underlying()(input, init); return { fetch: call, sendOwn: call, passThrough: call } }',
  },
]

/** Where the stand-ins' own imports resolve from: they replace imports of src/session.ts. */
const SRC = fileURLToPath(new URL('./src', import.meta.url))

const FAIL = 'export const fail = what => () => { throw new TypeError(`rotor-auth: no ${what} in the worker`) }'

/**
 * Where the page loads code on demand (`import('./x.js')`), the worker's script, one classic file,
 * has it inside anyway: there the import is a static one (a dynamic import of a module in the
 * same file only costs the bundler's lazy wrappers: 269 B min+gzip measured).
 */
const ON_DEMAND = /[\\/]src[\\/](session|core[\\/]refresh|core[\\/]refresh-call)\.ts$/

function importedAtOnce(source: string): string {
  const modules: string[] = []
  const body = source.replace(/(?<!typeof )\bimport\((['"])(\.[^'"]+)\1\)/g, (_, _quote: string, path: string) => {
    modules.push(path)
    return `Promise.resolve(onDemand${modules.length - 1})`
  })
  return modules.map((path, i) => `import * as onDemand${i} from '${path}'\n`).join('') + body
}

export const notInWorker: Plugin = {
  name: 'not-in-worker',
  setup(build) {
    build.onLoad({ filter: ON_DEMAND }, async args => ({ contents: importedAtOnce(await readFile(args.path, 'utf8')), loader: 'ts' }))
    for (const [i, { importer, path }] of NOT_IN_WORKER.entries()) {
      const filter = new RegExp(`^${path.replace(/[./]/g, '\\$&')}$`)
      build.onResolve({ filter }, args => (importer.test(args.importer) ? { path: String(i), namespace: 'not-in-worker' } : undefined))
    }
    // One failing function for every stand-in (its text in the script once): `fail(what)` throws naming what was reached.
    build.onResolve({ filter: /^not-in-worker:fail$/ }, () => ({ path: 'fail', namespace: 'not-in-worker' }))
    build.onLoad({ filter: /.*/, namespace: 'not-in-worker' }, args => {
      if (args.path === 'fail') return { contents: FAIL, loader: 'js' }
      const { path, exports, contents } = NOT_IN_WORKER[Number(args.path)]!
      const stubs = exports.map(name => `export const ${name} = fail('${path}')`)
      return { contents: contents ?? [`import { fail } from 'not-in-worker:fail'`, ...stubs].join('\n'), loader: 'js', resolveDir: SRC }
    })
  },
}

/** The simulator's defect switches (src/utils/zoo.ts) fold to `false`: not a byte of them is published. */
const ZOO_OFF = { __ROTOR_ZOO__: 'undefined' }

/**
 * A second minifier over esbuild's for the worker's script, the one file Rotor ships minified
 * (pages are minified by the app's bundler): terser's compressor finds what esbuild's leaves,
 * 21,146 -> 20,459 B min+gzip measured (its own pass on the unminified bundle reached 20,928 B).
 * Safe options only (no `unsafe*`): the script runs every test of test/browser/worker*.ts.
 * `pure_getters` takes a property read for a read (-82 B min+gzip, measured 2026-12-07): no
 * getter in src/ has a side effect, and no read is there to throw. Its whole effect on the
 * script, read then, was unused reads dropped (`machine.snapshot;`) and locals inlined.
 */
const TERSER: MinifyOptions = { ecma: 2020, compress: { passes: 2, pure_getters: true }, mangle: true }

/**
 * The worker's script, esbuild-minified, through terser. Given esbuild's source map, the map
 * returned goes from terser's output straight to src/ (terser composes the two): tsup, which
 * composes only where a map names the chunk itself, leaves it as it is.
 */
export async function terse(code: string, map?: string): Promise<{ code: string; map: string | null }> {
  const out = await minify(code, { ...TERSER, sourceMap: map === undefined ? false : { content: map } })
  if (out.code === undefined) throw new Error('terser returned no code for the worker script')
  return { code: out.code, map: typeof out.map === 'string' ? out.map : null }
}

/** tsup's last step for the worker's script (a failure fails the build: tsup's own terser step would ship the unminified file). */
const terseWorker = {
  name: 'terse-worker',
  async renderChunk(code: string, info: { path: string; map?: string | object | null | undefined }) {
    if (!info.path.endsWith('.js')) return undefined
    return terse(code, typeof info.map === 'string' ? info.map : info.map ? JSON.stringify(info.map) : undefined)
  },
}

/**
 * Statements the worker's build drops: each `notInWorker:` label in src/ marks one (a method
 * body, mostly) that only a page runs: the worker's script never names the method
 * (test/worker/script-drops.test.ts checks it), and esbuild cannot drop a class's unused methods.
 */
export const WORKER_DROPS = ['notInWorker']

/** The rotation worker's script as tsup builds it; bench/lib/bundle.ts measures the same build. */
export const WORKER_BUILD = {
  entry: { 'rotor-worker': 'src/worker/main.ts' },
  format: ['iife'],
  platform: 'browser',
  target: 'es2022',
  minify: true,
  esbuildPlugins: [notInWorker],
  esbuildOptions: (options: { dropLabels?: string[] }) => void (options.dropLabels = WORKER_DROPS),
  define: ZOO_OFF,
} satisfies Options

const shared: Options = {
  entry: {
    index: 'src/index.ts',
    'xhr/index': 'src/xhr.ts',
    'socket/index': 'src/socket/index.ts',
    'folio/index': 'src/folio/index.ts',
    'react/index': 'src/react/index.ts',
    'devtools/index': 'src/devtools/index.ts',
    'redis/index': 'src/redis/index.ts',
    'testing/index': 'src/testing/index.ts',
  },
  dts: true,
  sourcemap: true,
  target: 'es2022',
  // The testing entry's cookie jar and socket face load these lazily; they are optional peers.
  // So is React: rotor-auth/react uses the app's own copy (two Reacts break hooks). The redis
  // entry imports `redis` as types only (the caller passes a client); kept external should
  // that ever change, so the optional peer is never bundled.
  external: ['msw', 'msw/node', 'fetch-cookie', 'tough-cookie', 'ws', 'react', 'react/jsx-runtime', 'redis'],
  esbuildPlugins: [mainAsPackage],
  define: ZOO_OFF,
}

export default defineConfig([
  // ESM: dependencies stay external (a user's bundler dedupes them); the refresh call is a
  // chunk of its own, loaded on demand.
  { ...shared, format: ['esm'], clean: true },
  // CJS: jose is ESM-only (as ky was, when it made the refresh call). Kept external,
  // `require(esm)` hands back its namespace, and the interop reads its `default` as the
  // namespace again (ky.default.post was not a function: the CJS build could never refresh).
  // Bundled in, it just works.
  { ...shared, format: ['cjs'], noExternal: ['jose'] },
  // The rotation worker (rotor-auth/worker): a SharedWorker loads it by URL, as a classic
  // script in every engine, so it is one file with everything in it and no imports.
  {
    ...WORKER_BUILD,
    sourcemap: true,
    plugins: [terseWorker],
    noExternal: [/.*/],
    // The DPoP code rides in every copy of the script (~1.7 KB min+gzip: docs/performance.md): the
    // worker signs the refreshes of `dpop` sessions with the tabs' key (docs/guides/dpop.md: why
    // not a second script).
    outExtension: () => ({ js: '.js' }),
  },
  // rotor-auth/worker under the `node` condition: a module that throws a clear error, instead
  // of the script, which would fail on `addEventListener`. Its types are types/worker.d.(c)ts,
  // written by hand: tsup emits none for a module without exports.
  { entry: { 'worker/node': 'src/worker/node.ts' }, format: ['esm', 'cjs'], platform: 'node', target: 'node20' },
  // `npx rotor-auth init <public dir>`: copies the worker script for apps that serve static files.
  { entry: { cli: 'src/cli.ts' }, format: ['esm'], platform: 'node', target: 'node20' },
])
