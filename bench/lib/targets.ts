/** The runner's verdict table (✓/✗ per target), and the byte-budget targets read off the size scenario until it returns its own. */
import type { Section, Target } from '../table.js'

/** Issue 32: what a page downloads before its first rotation, and the worker script, each ≤ this many KB min+gzip. */
export const SIZE_BUDGET_KB = 20

/** The Markdown table of every target: one row each, ✓ met, ✗ missed, – not decided. */
export function verdictTable(targets: ReadonlyArray<Target & { scenario: string }>): string[] {
  const cell = (text: string) => text.replace(/\|/g, '\\|')
  return [
    '| | target | figure | scenario |',
    '|---|---|---|---|',
    ...targets.map(t => `| ${t.met === undefined ? '–' : t.met ? '✓' : '✗'} | ${cell(t.target)} | ${cell(t.figure)} | ${cell(t.scenario)} |`),
  ]
}

/**
 * Targets of a scenario that returns none (soak, tabs, cluster, dpop): one per verdict, met when
 * it says "met", missed when it says "MISSED", else undecided (a figure without a target).
 */
export function targetsOf(section: Section): Target[] {
  if (section.targets?.length) return section.targets
  return section.verdicts.map(verdict => {
    const cut = verdict.indexOf(':')
    return {
      target: cut > 0 ? verdict.slice(0, cut) : section.title,
      met: /\bMISSED\b/.test(verdict) ? false : /\bmet\b/.test(verdict) ? true : undefined,
      figure: cut > 0 ? verdict.slice(cut + 1).trim() : verdict,
    }
  })
}

/**
 * The byte budgets, read off bench/size.ts's verdicts (unless it returns `targets` itself): the
 * page weight from "what every page downloads … N KB", the worker script from the verdict naming
 * the worker with a KB figure, else "not measured".
 */
export function sizeTargets(section: Section): Section {
  if (section.targets?.length) return section
  const figure = (pattern: RegExp): number | undefined => {
    for (const verdict of section.verdicts) {
      const match = pattern.exec(verdict)
      if (match) return Number(match[1])
    }
    return undefined
  }
  const budget = (target: string, kb: number | undefined, what: string): Target =>
    kb === undefined ? { target, met: undefined, figure: `not measured by bench/size.ts (${what})` } : { target, met: kb <= SIZE_BUDGET_KB, figure: `${kb} KB min+gzip` }
  return {
    ...section,
    targets: [
      budget(`Page weight before the first rotation ≤ ${SIZE_BUDGET_KB} KB min+gzip`, figure(/every page downloads[^:]*: ([\d.]+) KB/), 'no page-weight verdict found'),
      budget(`Worker script ≤ ${SIZE_BUDGET_KB} KB min+gzip`, figure(/worker[^:]*: ([\d.]+) KB/i), 'no worker-script verdict found'),
    ],
  }
}
