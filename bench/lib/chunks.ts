/** Every chunk Rotor ships, measured, with the modules each is made of: the figures of docs/performance.md and of the size test's budgets. */
import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'
import { BROWSER_BUILD, measureChunks, measureWorker, type Measured } from './bundle.js'

/** One module's share of a chunk: its minified bytes, and that share of the chunk's min+gzip bytes. */
export type ModuleShare = { module: string; minified: number; gzipShare: number }
export type ChunkRow = { chunk: string; loaded: string; size: Measured; modules: ModuleShare[] }

/** node_modules/<pkg>/… → <pkg>/…; the repository's own files as they are. */
const short = (file: string) => file.replace(/^.*node_modules\//, '')

/** Gzip does not split by module: each module gets the chunk's gzip bytes in proportion to its minified bytes. */
function shares(inputs: Record<string, number>, size: Measured): ModuleShare[] {
  const total = Object.values(inputs).reduce((a, b) => a + b, 0) || 1
  return Object.entries(inputs)
    .filter(([, bytes]) => bytes > 0)
    .map(([file, bytes]) => ({ module: short(file), minified: bytes, gzipShare: Math.round((size.gzipped * bytes) / total) }))
    .sort((a, b) => b.minified - a.minified)
}

/** The public entries besides the main one, as an app imports them next to `rotor-auth`: what each adds. */
const ENTRIES: Array<[name: string, entry: string, loaded: string]> = [
  ['xhr (rotor-auth/xhr)', 'src/xhr.ts', 'apps that import the XHR facade'],
  ['socket (rotor-auth/socket)', 'src/socket/index.ts', 'apps that import it'],
  ['react (rotor-auth/react)', 'src/react/index.ts', 'apps that import it (React itself not counted)'],
  ['folio (rotor-auth/folio)', 'src/folio/index.ts', 'apps that import it'],
  ['devtools (rotor-auth/devtools)', 'src/devtools/index.ts', 'apps that import it'],
]

/** The other entries built with the main one (code splitting): each entry's own file, the chunks it shares with the main entry not counted. */
async function entryRows(): Promise<ChunkRow[]> {
  const result = await build({
    ...BROWSER_BUILD,
    entryPoints: ['src/index.ts', ...ENTRIES.map(([, entry]) => entry)],
    splitting: true,
    outdir: 'out',
    metafile: true,
    external: ['react', 'react/jsx-runtime'],
    define: { 'process.env.NODE_ENV': '"production"', __ROTOR_ZOO__: 'undefined' },
  })
  const outputs = result.metafile.outputs
  return ENTRIES.map(([chunk, entry, loaded]) => {
    const path = Object.keys(outputs).find(p => outputs[p]!.entryPoint === entry)!
    const file = result.outputFiles.find(f => f.path.endsWith(path.replace(/^out\//, '/')))!
    const size = { minified: file.contents.byteLength, gzipped: gzipSync(file.contents, { level: 9 }).byteLength }
    const inputs = Object.fromEntries(Object.entries(outputs[path]!.inputs).map(([f, { bytesInOutput }]) => [f, bytesInOutput]))
    return { chunk, loaded, size, modules: shares(inputs, size) }
  })
}

/** The on-demand chunks of the main entry, named by the module that makes each one. */
const LAZY: Array<[name: string, module: string, loaded: string]> = [
  ['refresh', 'src/core/refresh-call.ts', 'every page, in the background at createSession'],
  ['election', 'src/coordinator/leader-lock.ts', 'pages without Web Locks'],
  ['refusal redaction', 'src/utils/redact.ts', 'a page whose refresh token is refused (the refusal body, redacted)'],
  ['dpop', 'src/dpop/session.ts', 'sessions with `dpop`'],
  ['worker client', 'src/worker/tab.ts', 'sessions with `worker`'],
  ['trace peers', 'src/trace/peers.ts', "`session.trace({ tabs: true })`, or another tab's trace request"],
  ['trace sink', 'src/trace/sink.ts', 'sessions with `debug: true` or a logger'],
  ['idle', 'src/core/idle.ts', 'sessions with `idle`'],
  ['session ending', 'src/core/ending.ts', 'sessions with `sessionEnding`'],
]

export type SizeReport = {
  main: ChunkRow
  /** The files the main chunk is made of, and their bytes were they one file (see Chunks). */
  mainFiles: string[]
  mainAsOne: Measured
  refresh: ChunkRow
  worker: ChunkRow
  rows: ChunkRow[]
}

/** Every chunk: the main one, each on-demand chunk of the main entry (shared helpers in a chunk of their own, when the bundler makes one), the worker's script, the other entries. */
export async function sizeReport(): Promise<SizeReport> {
  const { main, mainModules, lazy, mainFiles, mainAsOne } = await measureChunks('src/index.ts')
  const mainRow: ChunkRow = { chunk: 'main', loaded: 'every page, before createSession runs', size: main, modules: shares(mainModules, main) }
  const named = new Set<(typeof lazy)[number]>()
  const lazyRows = LAZY.map(([chunk, module, loaded]): ChunkRow => {
    const found = lazy.find(c => c.inputs.includes(module))
    if (found) named.add(found)
    return { chunk, loaded, size: found?.size ?? { minified: 0, gzipped: 0 }, modules: found ? shares(found.modules, found.size) : [] }
  })
  const helpers = lazy.filter(c => !named.has(c))
  const helperSize = helpers.reduce((a, c) => ({ minified: a.minified + c.size.minified, gzipped: a.gzipped + c.size.gzipped }), { minified: 0, gzipped: 0 })
  const helperRow: ChunkRow = {
    chunk: 'shared by on-demand chunks',
    loaded: 'with the first on-demand chunk that needs them',
    size: helperSize,
    modules: helpers.flatMap(c => shares(c.modules, c.size)),
  }
  const w = await measureWorker()
  const worker: ChunkRow = { chunk: 'worker (rotor-auth/worker)', loaded: 'once per browser, by sessions with `worker`', size: w.size, modules: shares(w.inputs, w.size) }
  return {
    main: mainRow,
    mainFiles,
    mainAsOne,
    refresh: lazyRows[0]!,
    worker,
    rows: [mainRow, ...lazyRows, ...(helpers.length ? [helperRow] : []), worker, ...(await entryRows())],
  }
}
