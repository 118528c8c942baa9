/**
 * `--baseline=<git-ref>`: Rotor as it was at another commit, for a before/after comparison in
 * one run on one machine. That commit's src/ (with package.json and tsconfig.json, which steer
 * the bundle) is unpacked by `git archive` into a temp dir, bundled as bench/lib/rotor.ts
 * bundles this checkout, and the temp dir removed: nothing of the checkout is touched.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './bundle.js'
import { bundleRotor, importBundle, type Rotor } from './rotor.js'

/** The ref given as `--baseline=<ref>`, if any. */
export const BASELINE_REF = process.argv.find(arg => arg.startsWith('--baseline='))?.slice('--baseline='.length) || undefined

export type Baseline = { ref: string; commit: string; rotor: Rotor }

const git = (args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()

/** Rotor at `ref`: throws if git does not know the ref. */
export async function loadBaseline(ref: string): Promise<Baseline> {
  const commit = git(['rev-parse', '--verify', '--short', `${ref}^{commit}`])
  const dir = mkdtempSync(join(tmpdir(), 'rotor-baseline-'))
  try {
    const tar = join(dir, 'sources.tar')
    git(['archive', '--format=tar', '-o', tar, commit, 'src', 'package.json', 'tsconfig.json'])
    execFileSync('tar', ['-xf', tar, '-C', dir])
    return { ref, commit, rotor: await importBundle(await bundleRotor(dir)) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
