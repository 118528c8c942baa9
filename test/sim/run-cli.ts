/** Runs the simulator's CLI (`npm run sim`) from a test: bundles it once per test process, then runs it as a child process. */
import { spawn } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')
/*
 * As `npm run sim` does, the CLI runs bundled: a session's on-demand chunks then load in
 * microtasks, not on a loader thread in real time, so runs replay. Each test process has its
 * own bundle (inside the repo, so that its external packages resolve from node_modules).
 */
const BUNDLE = join(ROOT, '.tmp', 'sim-test', `cli-${process.pid}.mjs`)
let bundled: Promise<unknown> | undefined

/** Removes this process's bundle (call it in `afterAll`). */
export function removeBundle(): void {
  rmSync(BUNDLE, { force: true })
  rmSync(`${BUNDLE}.map`, { force: true })
}

export type CliRun = { code: number | null; stdout: string; stderr: string; seconds: number }

/** Runs `npm run sim -- <args>` and collects what it printed. */
export async function simCli(args: string[]): Promise<CliRun> {
  mkdirSync(dirname(BUNDLE), { recursive: true })
  bundled ??= build({
    entryPoints: [join(ROOT, 'test/sim/cli.ts')],
    bundle: true,
    sourcemap: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
    outfile: BUNDLE,
  })
  await bundled
  const started = performance.now()
  const child = spawn(process.execPath, ['--enable-source-maps', BUNDLE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stdout, stderr, seconds: (performance.now() - started) / 1000 }
}
