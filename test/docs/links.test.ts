/**
 * The documentation's relative links resolve: every `[text](target)` in README.md, CONTRIBUTING.md
 * and docs/**.md that is not a URL names a file or folder that exists, and a `#anchor` names a
 * heading of the file it points at (as GitHub slugs it); and every guarantee row in
 * docs/guarantees.md links the test that proves it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Pages other branches of this round write (the size engineer's performance page, the generated
 * reference): a link to one may point ahead of the merge. Once the file exists it is checked like
 * any other, anchors included; remove its entry then.
 */
const WRITTEN_ELSEWHERE = new Set(['docs/performance.md'])

export type Link = { line: number; target: string }

function markdownFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap(e => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : []))
  return [join(ROOT, 'README.md'), join(ROOT, 'CONTRIBUTING.md'), ...walk(join(ROOT, 'docs'))]
}

/** The links of a markdown text, outside fenced code and inline code spans. */
export function extractLinks(text: string): Link[] {
  const links: Link[] = []
  let fence: string | undefined
  text.split('\n').forEach((raw, i) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(raw)?.[1]
    if (open) {
      if (fence === undefined) fence = open
      else if (open.startsWith(fence)) fence = undefined
      return
    }
    if (fence !== undefined) return
    const line = raw.replace(/(`+)[^`]*?\1/g, '')
    for (const m of line.matchAll(/\[(?:[^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line: i + 1, target: m[1]! })
  })
  return links
}

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
  return text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

/** Every anchor a markdown file offers: its headings' slugs (repeats numbered as GitHub numbers them) and explicit `id`/`name` attributes. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  let fence: string | undefined
  for (const line of text.split('\n')) {
    const open = /^\s*(`{3,}|~{3,})/.exec(line)?.[1]
    if (open) {
      if (fence === undefined) fence = open
      else if (open.startsWith(fence)) fence = undefined
      continue
    }
    if (fence !== undefined) continue
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!)
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1]
    if (heading === undefined) continue
    const base = slug(heading)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/**
 * The data rows of docs/guarantees.md's tables that state a guarantee: all but the attackers'
 * table (who can do what) and the comparison with other clients (their issues, not our tests).
 */
export function guaranteeRows(text: string): { line: number; text: string }[] {
  const rows: { line: number; text: string }[] = []
  let section = ''
  let header: string | undefined
  text.split('\n').forEach((line, i) => {
    if (line.startsWith('## ')) section = line
    if (!line.startsWith('|')) return void (header = undefined)
    if (header === undefined) return void (header = line)
    if (/^\|[\s|:-]+\|$/.test(line) || /^\|\s*attacker\s*\|/.test(header) || section.startsWith('## Compared')) return
    rows.push({ line: i + 1, text: line })
  })
  return rows
}

/** What is wrong with one link of `file`, or undefined when it resolves. */
function problem(file: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined // https:, mailto: … are not files
  const [path = '', anchor] = target.split('#', 2)
  const dest = path === '' ? file : resolve(dirname(file), decodeURI(path))
  const rel = relative(ROOT, dest)
  if (rel.startsWith('..')) return `${target} leaves the repository`
  if (!existsSync(dest)) return WRITTEN_ELSEWHERE.has(rel) ? undefined : `${target}: no such file (${rel})`
  if (anchor === undefined || anchor === '') return undefined
  if (statSync(dest).isDirectory() || !dest.endsWith('.md')) return undefined // GitHub's line anchors (#L10) and folders are not checked
  const offered = anchors(readFileSync(dest, 'utf8'))
  return offered.has(decodeURIComponent(anchor)) ? undefined : `${target}: ${rel} has no heading #${anchor}`
}

describe("the documentation's links", () => {
  const files = markdownFiles()

  test('there are links to check, in README.md, CONTRIBUTING.md and docs/', () => {
    const counts = files.map(f => extractLinks(readFileSync(f, 'utf8')).length)
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(100)
    expect(files.map(f => relative(ROOT, f))).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/guarantees.md']))
  })

  test.each(files.map(f => [relative(ROOT, f), f] as const))('%s: every relative link resolves', (_name, file) => {
    const broken = extractLinks(readFileSync(file, 'utf8')).flatMap(({ line, target }) => {
      const why = problem(file, target)
      return why === undefined ? [] : [`line ${line}: ${why}`]
    })
    expect(broken).toEqual([])
  })

  test('every row of the guarantees links the test that proves it', () => {
    const rows = guaranteeRows(readFileSync(join(ROOT, 'docs/guarantees.md'), 'utf8'))
    expect(rows.length).toBeGreaterThan(100)
    expect(rows.filter(r => !r.text.includes('](../test/')).map(r => `line ${r.line}: ${r.text.slice(0, 80)}`)).toEqual([])
  })

  test('the checker sees a missing file, a missing anchor, and skips URLs and code', () => {
    const here = join(ROOT, 'docs', 'x.md')
    expect(problem(here, 'guarantees.md')).toBeUndefined()
    expect(problem(here, 'guarantees.md#by-attacker')).toBeUndefined()
    expect(problem(here, 'guarantees.md#no-such-heading')).toMatch(/no heading/)
    expect(problem(here, 'no-such-page.md')).toMatch(/no such file/)
    expect(problem(here, '../test/docs/links.test.ts')).toBeUndefined()
    expect(problem(here, 'https://example.org/missing')).toBeUndefined()
    expect(problem(here, '../../outside.md')).toMatch(/leaves the repository/)
    const md = ['[a](one.md) `[b](two.md)`', '```md', '[c](three.md)', '```', '| [d](four.md#x) |'].join('\n')
    expect(extractLinks(md)).toEqual([
      { line: 1, target: 'one.md' },
      { line: 5, target: 'four.md#x' },
    ])
  })

  test('anchors are slugged as GitHub slugs them, repeats numbered', () => {
    expect(slug('The devtools panel: `rotor-auth/devtools`')).toBe('the-devtools-panel-rotor-authdevtools')
    expect(slug('FOLIO / Stripes settings: `rotor-auth/folio`')).toBe('folio--stripes-settings-rotor-authfolio')
    expect(slug('Clocks, sleep and skew')).toBe('clocks-sleep-and-skew')
    expect([...anchors('# A\n## A\n```\n# B\n```\n## Why was I logged out?')]).toEqual(['a', 'a-1', 'why-was-i-logged-out'])
  })
})
