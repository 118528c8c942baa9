/**
 * Rotor as users run it. Importing `src/` through tsx would measure tsx's transform too: it
 * compiles with esbuild's `keepNames`, which adds a `__name()` call to every function and
 * closure created (the published build, made by tsup, has none). So the bench bundles
 * `src/index.ts` once, like the package build (ES2022, not minified; jose and ky bundled in
 * so the module needs no resolution), and imports it from memory.
 */
import { build } from 'esbuild'
import type * as RotorModule from '../../src/index.js'
import { ROOT } from './bundle.js'

let loaded: Promise<typeof RotorModule> | undefined
let source: string | undefined

/** The bundled source loadRotor() imported (for naming anonymous functions in profiles). */
export function rotorSource(): string | undefined {
  return source
}

export function loadRotor(): Promise<typeof RotorModule> {
  loaded ??= (async () => {
    const result = await build({
      entryPoints: ['src/index.ts'],
      absWorkingDir: ROOT,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    })
    const code = result.outputFiles[0]!.text
    source = code
    return (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as typeof RotorModule
  })()
  return loaded
}
