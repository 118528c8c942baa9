/**
 * Bundle sizes as a browser app would ship them: esbuild (bundle, minify, ESM, browser)
 * and gzip level 9. Shared by `bench/size.ts` and the size budget in `test/size/`.
 */
import { build, type Plugin } from 'esbuild'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { notInWorker, terse, WORKER_BUILD, WORKER_DROPS } from '../../tsup.config.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** 1 KB = 1,000 bytes here, as size-limit counts. */
export const KB = 1000

export type Measured = { minified: number; gzipped: number }

export type BundleInput =
  /** A file of this repository, e.g. `src/index.ts`. */
  | { entry: string; external?: string[] }
  /** Module source to bundle, e.g. `export * from 'oidc-client-ts'`. */
  | { source: string; external?: string[] }

/** How every bundle here is built: for the browser, minified, as a user's bundler would. */
export const BROWSER_BUILD = {
  absWorkingDir: ROOT,
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  logLevel: 'silent',
} as const

export async function measure(input: BundleInput): Promise<Measured> {
  const result = await build({
    ...('entry' in input ? { entryPoints: [input.entry] } : { stdin: { contents: input.source, resolveDir: ROOT, loader: 'js', sourcefile: 'entry.js' } }),
    ...BROWSER_BUILD,
    external: input.external ?? [],
    define: { 'process.env.NODE_ENV': '"production"', __ROTOR_ZOO__: 'undefined' },
  })
  const code = result.outputFiles[0]!.contents
  return { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength }
}

export type Chunks = {
  /** The entry and every chunk it imports statically: what a page downloads before createSession runs. */
  main: Measured
  /** The source files in the main chunk (paths relative to the root). */
  mainInputs: string[]
  /** Minified bytes each source file puts in the main chunk. */
  mainModules: Record<string, number>
  /** Chunks reached only through a dynamic import() (loaded in the background, on demand). */
  onDemand: Measured
  /** Each on-demand chunk with the source files in it (paths relative to the root), and the files it imports statically. */
  lazy: Array<{ inputs: string[]; size: Measured; modules: Record<string, number>; imports: string[] }>
  /** The files the main chunk is made of (the entry's and the chunks it imports statically): each a download of its own. */
  mainFiles: string[]
  /** The main chunk's files gzipped as one: what the page would download were they one file. */
  mainAsOne: Measured
}

/** Sums minified and gzipped sizes (each file gzipped on its own, as it is served). */
function sum(files: Array<{ contents: Uint8Array }>): Measured {
  let minified = 0
  let gzipped = 0
  for (const f of files) {
    minified += f.contents.byteLength
    gzipped += gzipSync(f.contents, { level: 9 }).byteLength
  }
  return { minified, gzipped }
}

/** The entry built as a bundler with code splitting builds it (`plugins`: e.g. bench/lib/trace-cost.ts's): the main chunk and what loads on demand. */
export async function measureChunks(entry: string, plugins: Plugin[] = []): Promise<Chunks> {
  const result = await build({
    ...BROWSER_BUILD,
    entryPoints: [entry],
    plugins,
    splitting: true,
    outdir: 'out',
    metafile: true,
    define: { 'process.env.NODE_ENV': '"production"', __ROTOR_ZOO__: 'undefined' },
  })
  const outputs = result.metafile!.outputs
  const js = Object.keys(outputs).filter(path => path.endsWith('.js'))
  // Each dynamically imported module is an entry point of the metafile too: the main one is `entry`'s.
  const entryOut = js.find(path => outputs[path]!.entryPoint === entry)!
  const main = new Set<string>()
  const visit = (path: string) => {
    if (main.has(path)) return
    main.add(path)
    for (const imported of outputs[path]!.imports) if (imported.kind === 'import-statement') visit(imported.path)
  }
  visit(entryOut)
  const file = (path: string) => result.outputFiles!.find(f => f.path.endsWith(path.replace(/^out\//, '/')))!
  const lazy = js.filter(path => !main.has(path))
  const modules = (paths: string[]) =>
    Object.fromEntries(paths.flatMap(path => Object.entries(outputs[path]!.inputs).map(([input, { bytesInOutput }]) => [input, bytesInOutput] as const)))
  return {
    mainModules: modules([...main]),
    main: sum(js.filter(path => main.has(path)).map(file)),
    mainInputs: [...main].flatMap(path => Object.keys(outputs[path]!.inputs)),
    onDemand: sum(lazy.map(file)),
    lazy: lazy.map(path => ({
      inputs: Object.keys(outputs[path]!.inputs),
      size: sum([file(path)]),
      modules: modules([path]),
      imports: outputs[path]!.imports.filter(i => i.kind === 'import-statement').map(i => i.path),
    })),
    mainFiles: js.filter(path => main.has(path)),
    mainAsOne: sum([{ contents: Buffer.concat(js.filter(path => main.has(path)).map(path => file(path).contents)) }]),
  }
}

/** The rotation worker's script (rotor-auth/worker) as tsup builds it: one classic script, everything inside, minified by esbuild then terser. */
export async function measureWorker(): Promise<{ size: Measured; inputs: Record<string, number>; code: string }> {
  const result = await build({
    ...BROWSER_BUILD,
    entryPoints: [WORKER_BUILD.entry['rotor-worker']],
    format: 'iife',
    plugins: [notInWorker],
    dropLabels: WORKER_DROPS,
    metafile: true,
    define: { 'process.env.NODE_ENV': '"production"', __ROTOR_ZOO__: 'undefined' },
  })
  const output = Object.values(result.metafile.outputs)[0]!
  const inputs = Object.fromEntries(Object.entries(output.inputs).map(([file, { bytesInOutput }]) => [file, bytesInOutput]))
  // Then terser, as tsup's build of the script does (tsup.config.ts's `terse`).
  const { code } = await terse(result.outputFiles[0]!.text)
  return { size: sum([{ contents: Buffer.from(code) }]), inputs, code }
}

/** Rotor's whole browser bundle, dependencies (jose, broadcast-channel) included: what the budget limits. */
export const ROTOR_ALL_IN: BundleInput = { entry: 'src/index.ts' }
/** Rotor's own code, its dependencies left out. */
export const ROTOR_OWN: BundleInput = { entry: 'src/index.ts', external: ['jose', 'broadcast-channel'] }

/** Parses "15 KB", "15kB", "15000 B", "15000" into bytes (KB = 1,000 bytes). */
export function parseSize(value: string | number): number {
  if (typeof value === 'number') return value
  const m = /^\s*([\d.]+)\s*(b|kb|kib)?\s*$/i.exec(value)
  if (!m) throw new TypeError(`not a size: ${JSON.stringify(value)}`)
  const n = Number(m[1])
  const unit = (m[2] ?? 'b').toLowerCase()
  return Math.round(unit === 'b' ? n : unit === 'kib' ? n * 1024 : n * KB)
}

export const kb = (bytes: number): number => Math.round((bytes / KB) * 100) / 100
