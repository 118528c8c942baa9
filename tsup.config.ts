import type { Plugin } from 'esbuild'
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
 * The rotation worker's script runs the hub's own session, which never has the `worker` option:
 * the tab's side of the worker (src/worker/tab.ts, which via-worker.ts loads on demand) is
 * dead code there, and is replaced by a module whose connection always fails (-2.6 KB gzip).
 */
const noTabSideInWorker: Plugin = {
  name: 'no-tab-side-in-worker',
  setup(build) {
    build.onResolve({ filter: /^\.\/tab\.js$/ }, args =>
      /[\\/]src[\\/]worker[\\/]via-worker\.ts$/.test(args.importer) ? { path: 'tab', namespace: 'no-tab-side' } : undefined,
    )
    build.onLoad({ filter: /.*/, namespace: 'no-tab-side' }, () => ({
      contents: "export const connectTab = () => Promise.reject(new Error('no rotation worker inside the rotation worker'))",
      loader: 'js',
    }))
  },
}

/** The simulator's defect switches (src/utils/zoo.ts) fold to `false`: not a byte of them is published. */
const ZOO_OFF = { __ROTOR_ZOO__: 'undefined' }

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
  // CJS: jose and ky are ESM-only. Kept external, `require(esm)` hands back their namespace,
  // and the interop reads its `default` as the namespace again (ky.default.post is not a
  // function: the CJS build could never refresh). Bundled in, they just work.
  { ...shared, format: ['cjs'], noExternal: ['jose', 'ky'] },
  // The rotation worker (rotor-auth/worker): a SharedWorker loads it by URL, as a classic
  // script in every engine, so it is one file with everything in it and no imports.
  {
    entry: { 'rotor-worker': 'src/worker/main.ts' },
    format: ['iife'],
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    noExternal: [/.*/],
    esbuildPlugins: [noTabSideInWorker],
    define: ZOO_OFF,
    // The DPoP code rides in every copy of the script (+1.9 KB gzip): the worker signs the
    // refreshes of `dpop` sessions with the tabs' key (docs/guides/dpop.md: why not a second script).
    outExtension: () => ({ js: '.js' }),
  },
  // rotor-auth/worker under the `node` condition: a module that throws a clear error, instead
  // of the script, which would fail on `addEventListener`. Its types are types/worker.d.(c)ts,
  // written by hand: tsup emits none for a module without exports.
  { entry: { 'worker/node': 'src/worker/node.ts' }, format: ['esm', 'cjs'], platform: 'node', target: 'node20' },
  // `npx rotor-auth init <public dir>`: copies the worker script for apps that serve static files.
  { entry: { cli: 'src/cli.ts' }, format: ['esm'], platform: 'node', target: 'node20' },
])
