/**
 * Rotor as users run it. Importing `src/` through tsx would measure tsx's transform too: it
 * compiles with esbuild's `keepNames`, which adds a `__name()` call to every function and
 * closure created (the published build, made by tsup, has none). So the bench bundles
 * `src/index.ts` once, like the package build (ES2022, not minified; jose and ky bundled in
 * so the module needs no resolution), and imports it from memory.
 */
import { build, type Plugin } from 'esbuild'
import { join } from 'node:path'
import type * as RotorModule from '../../src/index.js'
import { ROOT } from './bundle.js'

export type Rotor = typeof RotorModule

let loaded: Promise<Rotor> | undefined
let source: string | undefined

/** The bundled source loadRotor() imported (for naming anonymous functions in profiles). */
export function rotorSource(): string | undefined {
  return source
}

/**
 * Bundles `src/index.ts` of a checkout at `root` (this one, or a baseline's sources unpacked
 * elsewhere: bench/lib/baseline.ts) and returns the code. Packages resolve from this checkout's
 * node_modules, so two checkouts compared differ in their src/ only. `plugins` change what is
 * bundled (bench/burst.ts compiles the trace out with trace-cost.ts's plugin).
 */
export async function bundleRotor(root: string, plugins: Plugin[] = []): Promise<string> {
  const result = await build({
    entryPoints: ['src/index.ts'],
    absWorkingDir: root,
    nodePaths: [join(ROOT, 'node_modules')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    plugins,
  })
  return result.outputFiles[0]!.text
}

/** Imports bundled code from memory. */
export async function importBundle(code: string): Promise<Rotor> {
  return (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Rotor
}

export function loadRotor(): Promise<Rotor> {
  loaded ??= (async () => {
    const code = await bundleRotor(ROOT)
    source = code
    return importBundle(code)
  })()
  return loaded
}
