/** A tiny table printer: aligned text for the terminal, GitHub markdown for RESULTS.md. */

export type Cell = string | number
export type Table = { columns: string[]; rows: Cell[][] }

/** What each scenario hands back to the runner. */
export type Section = {
  title: string
  /** One line on what was measured and how. */
  method: string
  table: Table
  /** Targets and whether they were met, in words. */
  verdicts: string[]
  /** Anything else worth writing down (profiles, caveats). */
  notes?: string[]
  /** The project's targets this scenario decides: the runner lists them with ✓/✗ at the top of RESULTS.md. */
  targets?: Target[]
}

/** One target's verdict: `met` undefined when the scenario could not decide it (not run, not measured). */
export type Target = { target: string; met: boolean | undefined; figure: string }

const show = (cell: Cell): string => (typeof cell === 'number' ? format(cell) : cell)

/** Numbers: thousands separators; at most 2 decimals below 100, 1 below 1,000, none above. */
export function format(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  const digits = Math.abs(n) >= 1000 ? 0 : Math.abs(n) >= 100 ? 1 : 2
  return n.toLocaleString('en-US', { maximumFractionDigits: digits })
}

function widths(table: Table): number[] {
  return table.columns.map((c, i) => Math.max(c.length, ...table.rows.map(r => show(r[i] ?? '').length)))
}

/** Numbers right-aligned, text left-aligned. */
function pad(cell: Cell, width: number): string {
  const s = show(cell)
  return typeof cell === 'number' ? s.padStart(width) : s.padEnd(width)
}

export function toText(table: Table): string {
  const w = widths(table)
  const line = (cells: Cell[]) =>
    cells
      .map((c, i) => pad(c, w[i]!))
      .join('  ')
      .trimEnd()
  return [line(table.columns), w.map(n => '─'.repeat(n)).join('  '), ...table.rows.map(line)].join('\n')
}

export function toMarkdown(table: Table): string {
  const w = widths(table)
  const line = (cells: Cell[]) => `| ${cells.map((c, i) => pad(c, w[i]!)).join(' | ')} |`
  const rule = `|${table.columns
    .map((_, i) => {
      const numeric = table.rows.some(r => typeof r[i] === 'number')
      return numeric ? `${'-'.repeat(w[i]! + 1)}:` : '-'.repeat(w[i]! + 2)
    })
    .join('|')}|`
  return [line(table.columns), rule, ...table.rows.map(line)].join('\n')
}
