/**
 * Issue 27's structure checks on src/: the lint's rules (eslint.config.js) hold everywhere but
 * in the PENDING_REFACTOR list, and src/ has no import cycle but PENDING_CYCLES, found by a
 * walker that does not depend on ESLint's resolver. Fixtures prove each check can fail.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { importCycles, importGraph } from './import-cycles.js'
import { againstPending, describeViolation, lint, loadLintConfig, srcCycles, type LintConfig, type Violation } from './lint-src.js'

/** Writes `files` (path → text) under a fresh temp dir and returns it. */
function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-structure-'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  return dir
}
const fixtures: string[] = []
afterAll(() => {
  for (const dir of fixtures) rmSync(dir, { recursive: true, force: true })
})

const HOW = 'fix it, or (for a file issue 27 is refactoring on another branch) list it in PENDING_REFACTOR in eslint.config.js'

let config: LintConfig
beforeAll(async () => {
  config = await loadLintConfig()
})

describe('src/ against the lint', () => {
  let violations: Violation[]
  beforeAll(async () => {
    violations = await lint(config.unexempted)
  }, 180_000)

  test('no rule is broken outside PENDING_REFACTOR', () => {
    const { unexpected } = againstPending(violations, config.PENDING_REFACTOR)
    expect(unexpected.map(describeViolation), HOW).toEqual([])
  })

  test('every PENDING_REFACTOR entry still breaks its rule (delete the fixed ones)', () => {
    const { fixed } = againstPending(violations, config.PENDING_REFACTOR)
    expect(fixed, 'fixed: delete these from PENDING_REFACTOR in eslint.config.js, then run `npm run lint:pending`').toEqual([])
  })
})

describe('import cycles in src/, found without ESLint', () => {
  test('none but PENDING_CYCLES', () => {
    const found = srcCycles()
    const key = (cycle: string[]) => cycle.join(' ↔ ')
    const pending = new Set(config.PENDING_CYCLES.map(key))
    const current = new Set(found.map(key))
    expect(
      found.map(key).filter(cycle => !pending.has(cycle)),
      'a new import cycle: move what both files need into a module of its own',
    ).toEqual([])
    expect(
      [...pending].filter(cycle => !current.has(cycle)),
      'gone: delete it from PENDING_CYCLES in eslint.config.js',
    ).toEqual([])
  })

  test('the walker sees a cycle through type-only imports, and fails on an import it cannot resolve', () => {
    const dir = fixture({
      'src/a.ts': "import type { B } from './b.js'\nexport type A = { b?: B }\n",
      'src/b.ts': "export type { A as B } from './nested/c.js'\n",
      'src/nested/c.ts': "import type { A as Outer } from '../a.js'\nexport type A = { a?: Outer }\n",
      'src/d.ts': "import { e } from './e.js'\nexport const d = () => e\n",
      'src/e.ts': "export const e = () => import('./d.js')\n",
    })
    fixtures.push(dir)
    // e.ts → d.ts is a dynamic import: a chunk loaded on demand, not a cycle.
    expect(importCycles(importGraph(join(dir, 'src'), dir))).toEqual([['src/a.ts', 'src/b.ts', 'src/nested/c.ts']])

    writeFileSync(join(dir, 'src/f.ts'), "import { gone } from './gone.js'\nexport const f = gone\n")
    expect(() => importGraph(join(dir, 'src'), dir)).toThrow(/cannot resolve '.\/gone.js'/)
  })
})

describe('the lint can fail: each rule fires on a fixture', () => {
  const longFunction = `export function long(): number {\n  let n = 0\n${'  n++\n'.repeat(78)}  return n\n}\n`
  const files = {
    'src/bad.ts': [
      'export function bad(): number {',
      '  setTimeout(() => undefined, 1)',
      '  const t = Date.now() + performance.now()',
      "  void new BroadcastChannel('x')",
      '  void (globalThis as { document?: unknown }).document',
      '  void globalThis.navigator',
      '  void AbortSignal.timeout(1)',
      '  if (t < 0) throw new Error(`late`)',
      '  return t',
      '}',
      'export class Holder {',
      '  private held = 1',
      '  get value() {',
      '    return this.held',
      '  }',
      '}',
      '',
    ].join('\n'),
    'src/long-function.ts': longFunction,
    'src/long-file.ts': `export const x = 1\n${'// filler\n'.repeat(350)}`,
    'src/cycle-a.ts': "import { b } from './cycle-b.js'\nexport const a = () => b\n",
    'src/cycle-b.ts': "import { a } from './cycle-a.js'\nexport const b = () => a\n",
    'src/platform/defaults.ts':
      "export const now = () => Date.now() + performance.now()\nexport const later = (f: () => void) => setTimeout(f, 1)\nexport const fail = () => new Error('x')\n",
    'src/testing/clock.ts':
      "export const now = () => Date.now()\nexport const fail = () => new Error('x')\nexport class Fake {\n  private n = 0\n  get value() {\n    return this.n\n  }\n}\n",
  }
  let rulesByFile: Record<string, string[]>

  beforeAll(async () => {
    const dir = fixture(files)
    fixtures.push(dir)
    const violations = await lint(config.unexempted, dir)
    rulesByFile = {}
    for (const v of violations) rulesByFile[v.file] = [...new Set([...(rulesByFile[v.file] ?? []), v.rule])].sort()
  }, 120_000)

  test('platform globals, new Error and TypeScript private in src/', () => {
    expect(rulesByFile['src/bad.ts']).toEqual([
      'rotor/no-new-error',
      'rotor/no-platform-globals',
      'rotor/no-platform-members',
      'rotor/no-platform-syntax',
      'rotor/prefer-hash-private',
    ])
  })

  test('a function over 80 lines, a file over 350', () => {
    expect(rulesByFile['src/long-function.ts']).toEqual(['max-lines-per-function'])
    expect(rulesByFile['src/long-file.ts']).toEqual(['max-lines'])
  })

  test("an import cycle between .ts files imported as './x.js' (ESLint's resolver follows them)", () => {
    expect(rulesByFile['src/cycle-a.ts']).toEqual(['import-x/no-cycle'])
    expect(rulesByFile['src/cycle-b.ts']).toEqual(['import-x/no-cycle'])
  })

  test('src/platform/defaults.ts may name the globals, src/testing/ may use real time and Error', () => {
    expect(rulesByFile['src/platform/defaults.ts']).toEqual(['rotor/no-new-error'])
    expect(rulesByFile['src/testing/clock.ts']).toEqual(['rotor/prefer-hash-private'])
  })
})
