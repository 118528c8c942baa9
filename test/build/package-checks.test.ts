/**
 * The packed tarball passes the registry-side checks users' tools apply: publint (exports,
 * files, formats) and Are the Types Wrong (every entry's types in node10, node16 CJS and ESM,
 * and bundler resolution), with a LICENSE inside.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ROOT } from '../../bench/lib/bundle.js'
import { packTo } from './build-once.js'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'rotor-pack-'))
const bin = (name: string) => join(ROOT, 'node_modules/.bin', name)
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }

describe('the packed package', () => {
  let tarball: string
  beforeAll(async () => {
    tarball = await packTo(dir)
  }, 300_000)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('publint (strict: warnings count) finds nothing', async () => {
    const { stdout } = await run(bin('publint'), ['run', tarball, '--strict'], { cwd: dir, timeout: 60_000 })
    expect(stdout).toMatch(/All good!/)
  }, 90_000)

  test('Are the Types Wrong finds no problem in any entry, in any resolution', async () => {
    // attw exits 1 on a problem; its JSON report is on stdout either way.
    const { stdout } = await run(bin('attw'), [tarball, '--format', 'json'], { cwd: dir, timeout: 60_000 }).catch((error: { stdout: string }) => error)
    const report = JSON.parse(stdout) as {
      problems: Record<string, unknown[]>
      analysis: { problems: unknown[]; entrypoints: Record<string, { resolutions: Record<string, unknown> }> }
    }
    // The problems, grouped by kind ({} when there are none) and as a list.
    expect(report.problems).toEqual({})
    expect(report.analysis.problems).toEqual([])
    // Every export is checked (none skipped as an unknown kind), each in the four resolutions.
    expect(Object.keys(report.analysis.entrypoints).sort()).toEqual(Object.keys(pkg.exports).sort())
    for (const entry of Object.values(report.analysis.entrypoints)) {
      expect(Object.keys(entry.resolutions).sort()).toEqual(['bundler', 'node10', 'node16-cjs', 'node16-esm'])
    }
  }, 90_000)

  test('the tarball holds the LICENSE (MIT)', async () => {
    const { stdout } = await run('tar', ['-xzOf', tarball, 'package/LICENSE'])
    expect(stdout).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} Rotor contributors/)
  })
})
