/**
 * Runs the lint (eslint.config.js) over src/ with nothing exempted and sets what it finds
 * against the config's PENDING_REFACTOR list: shared by test/build/structure.test.ts and
 * `npm run lint:pending`, which writes LINT-PENDING.md.
 */
import { ESLint, type Linter } from 'eslint'
import { join, relative, sep } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ROOT } from '../../bench/lib/bundle.js'
import { importCycles, importGraph } from './import-cycles.js'

/** What eslint.config.js exports besides the config itself. */
export type LintConfig = {
  /** src/ file → the rules it is exempted from until issue 27's refactor lands. */
  PENDING_REFACTOR: Record<string, string[]>
  /** The import cycles src/ still has, each a sorted list of files. */
  PENDING_CYCLES: string[][]
  /** The lint without the exemptions. */
  unexempted: Linter.Config[]
}

export type Violation = { file: string; line: number; rule: string; message: string }

export async function loadLintConfig(): Promise<LintConfig> {
  // A JavaScript module TypeScript does not type: imported by URL, typed here.
  return (await import(pathToFileURL(join(ROOT, 'eslint.config.js')).href)) as LintConfig
}

/** Every rule broken under `dir` of `cwd` by the lint `config`, exemptions left out. */
export async function lint(config: Linter.Config[], cwd = ROOT, dir = 'src'): Promise<Violation[]> {
  const eslint = new ESLint({ cwd, overrideConfigFile: true, overrideConfig: config })
  const results = await eslint.lintFiles([dir])
  return results.flatMap(result =>
    result.messages.map(m => ({
      file: relative(cwd, result.filePath).split(sep).join('/'),
      line: m.line,
      rule: m.ruleId ?? 'parse error',
      message: m.message,
    })),
  )
}

export const describeViolation = (v: Violation) => `${v.file}:${v.line} ${v.rule} — ${v.message}`

/** The violations PENDING_REFACTOR does not exempt, and its entries nothing breaks any more. */
export function againstPending(violations: Violation[], pending: Record<string, string[]>) {
  const exempted = (v: Violation) => pending[v.file]?.includes(v.rule) ?? false
  const broken = new Set(violations.map(v => `${v.file} ${v.rule}`))
  return {
    unexpected: violations.filter(v => !exempted(v)),
    fixed: Object.entries(pending).flatMap(([file, rules]) => rules.filter(rule => !broken.has(`${file} ${rule}`)).map(rule => `${file} ${rule}`)),
  }
}

/** src/'s import cycles, found without ESLint (test/build/import-cycles.ts). */
export const srcCycles = (): string[][] => importCycles(importGraph(join(ROOT, 'src'), ROOT))

/** LINT-PENDING.md: per src/ file, the rules it breaks today and where. */
export function pendingReport(violations: Violation[], cycles: string[][]): string {
  const byFile = new Map<string, Map<string, number[]>>()
  for (const v of violations) {
    const rules = byFile.get(v.file) ?? byFile.set(v.file, new Map()).get(v.file)!
    rules.set(v.rule, [...new Set([...(rules.get(v.rule) ?? []), v.line])])
  }
  const files = [...byFile].sort(([a], [b]) => a.localeCompare(b))
  return [
    '# What src/ breaks of the lint today',
    '',
    'Written by `npm run lint:pending` (test/build/lint-src.ts) from the lint with no exemption. Each file below is',
    "in eslint.config.js's `PENDING_REFACTOR` with exactly these rules, and each cycle in `PENDING_CYCLES`; after",
    'merging a branch of issue 27, delete the entries it fixed there (test/build/structure.test.ts names them) and',
    'run `npm run lint:pending` again. The list is empty when the refactor is done.',
    '',
    `${files.length} files, ${violations.length} violations; ${cycles.length} import cycles.`,
    '',
    '| file | rule | lines |',
    '|---|---|---|',
    ...files.flatMap(([file, rules]) => [...rules].sort(([a], [b]) => a.localeCompare(b)).map(([rule, lines]) => `| ${file} | ${rule} | ${lines.join(', ')} |`)),
    '',
    '## Import cycles (static imports, type-only ones included)',
    '',
    ...cycles.map(cycle => `- ${cycle.join(' ↔ ')}`),
    '',
  ].join('\n')
}
