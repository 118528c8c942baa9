/**
 * docs/reference/ is current and complete: regenerated in memory it equals what is committed, and
 * every public option, method, event, error class and error code has its heading there. The
 * public names are enumerated here without the generator (the option validator's known keys, the
 * session object itself, the `on()` event list, the code union, the entries' exports), so a
 * generator that skips something, or a missing JSDoc, fails too.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { beforeAll, describe, expect, test } from 'vitest'
import { generateReference, REFERENCE_DIR, ROOT } from '../../scripts/reference.js'
import { DEFAULT_BUDGET } from '../../src/core/budget.js'
import * as main from '../../src/index.js'
import * as redis from '../../src/redis/index.js'
import * as socket from '../../src/socket/index.js'

const FIX = 'run `npm run docs:reference` and commit docs/reference/'
const dir = join(ROOT, REFERENCE_DIR)
const committed = (file: string) => readFileSync(join(dir, file), 'utf8')

/** The names a page gives a heading each: "## `name`" at any level. */
export function headingsOf(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{2,6} `([^`]+)`\s*$/gm)].map(m => m[1]!))
}

const parse = (path: string) => ts.createSourceFile(path, readFileSync(join(ROOT, path), 'utf8'), ts.ScriptTarget.Latest, true)

/** Every string literal inside the initializer of `const name` in a parsed file. */
function literalsOf(sf: ts.SourceFile, name: string): string[] {
  const out: string[] = []
  const collect = (node: ts.Node): void => {
    if (ts.isStringLiteral(node)) out.push(node.text)
    ts.forEachChild(node, collect)
  }
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === name && node.initializer) collect(node.initializer)
    ts.forEachChild(node, visit)
  }
  visit(sf)
  if (!out.length) throw new TypeError(`${sf.fileName} has no \`const ${name}\` with strings: update this test's enumeration`)
  return out
}

/** Every option the validator (src/core/options.ts) knows, nested ones as `parent.key`. */
function publicOptions(): string[] {
  const sf = parse('src/core/options.ts')
  const top = literalsOf(sf, 'KNOWN')
  const nestedSets: Array<[string, string]> = [
    ['refresh', 'KNOWN_REFRESH'],
    ['idle', 'KNOWN_IDLE'],
    ['sessionEnding', 'KNOWN_ENDING'],
    ['platform', 'KNOWN_PLATFORM'],
  ]
  const nested = nestedSets.flatMap(([parent, set]) => literalsOf(sf, set).map(key => `${parent}.${key}`))
  // What the validator checks key by key rather than through a set: refreshBudget's limits, and
  // the two one-key objects (`crossTab: { name }`, `dpop: { alg }`).
  const budget = Object.keys(DEFAULT_BUDGET).map(key => `refreshBudget.${key}`)
  return [...top, ...nested, ...budget, 'crossTab.name', 'dpop.alg']
}

/** Every event `session.on()` accepts: the keys of `EVENTS` in src/core/event-names.ts (what on() checks against). */
function publicEvents(): string[] {
  const names: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === 'EVENTS' && node.initializer && ts.isObjectLiteralExpression(node.initializer)) {
      for (const p of node.initializer.properties) if (p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) names.push(p.name.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(parse('src/core/event-names.ts'))
  return names
}

/** Every member of the RotorErrorCode union. */
function errorCodes(): string[] {
  const sf = parse('src/errors.ts')
  const alias = sf.statements.find((s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === 'RotorErrorCode')
  if (!alias || !ts.isUnionTypeNode(alias.type)) throw new TypeError('src/errors.ts: RotorErrorCode is no longer a union')
  return alias.type.types.map(t => (ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? t.literal.text : t.getText()))
}

/** Every error class the entries export, found at run time. */
function errorClasses(): string[] {
  const modules: Record<string, unknown>[] = [main, redis, socket]
  return modules.flatMap(m =>
    Object.entries(m)
      .filter(([, v]) => typeof v === 'function' && v.prototype instanceof Error)
      .map(([k]) => k),
  )
}

/** Every member of the Coordinator interface, methods as `name()`. */
function coordinatorMembers(): string[] {
  const sf = parse('src/coordinator/types.ts')
  const iface = sf.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'Coordinator')
  if (!iface) throw new TypeError('src/coordinator/types.ts: no Coordinator interface')
  return iface.members.map(m => `${m.name!.getText()}${ts.isMethodSignature(m) ? '()' : ''}`)
}

describe('docs/reference/', () => {
  let generated: Map<string, string>

  beforeAll(() => {
    // One program over the entries: seconds alone, a minute or more on a loaded machine.
    generated = generateReference(ROOT)
  }, 300_000)

  test('is what `npm run docs:reference` makes now (not stale)', () => {
    const onDisk = readdirSync(dir).filter(f => f.endsWith('.md'))
    expect(onDisk.sort(), `pages in ${REFERENCE_DIR}: ${FIX}`).toEqual([...generated.keys()].sort())
    for (const [file, text] of generated) expect(committed(file) === text, `${REFERENCE_DIR}/${file} is stale: ${FIX}`).toBe(true)
  })

  test('no entry lacks its JSDoc', () => {
    const bare = [...generated].flatMap(([file, text]) =>
      text
        .split('\n')
        .map((line, i) => [line, i] as const)
        .filter(([line]) => line.includes('(undocumented)'))
        .map(([, i]) => `${file}:${i + 1}`),
    )
    expect(bare, 'write JSDoc in src/ for these, then run `npm run docs:reference`').toEqual([])
  })

  test('every session option, nested ones included, has a heading in options.md', () => {
    const options = publicOptions()
    expect(options.length).toBeGreaterThan(40)
    const headings = headingsOf(committed('options.md'))
    expect(options.filter(o => !headings.has(o))).toEqual([])
  })

  test('every method and property of a session has a heading in session.md', () => {
    const session = main.createSession({ scope: 'https://api.example.org/v1', crossTab: false })
    try {
      const descriptors = Object.entries(Object.getOwnPropertyDescriptors(session))
      const names = descriptors.map(([key, d]) => (typeof d.value === 'function' ? `session.${key}()` : `session.${key}`))
      expect(names.length).toBeGreaterThan(15)
      const headings = headingsOf(committed('session.md'))
      expect(names.filter(n => !headings.has(n))).toEqual([])
    } finally {
      session.dispose()
    }
  })

  test('every event has a heading in events.md', () => {
    const events = publicEvents()
    expect(events.length).toBeGreaterThan(10)
    const headings = headingsOf(committed('events.md'))
    expect(events.filter(e => !headings.has(e))).toEqual([])
  })

  test('every error class and every RotorErrorCode has a heading in errors.md', () => {
    const names = [...errorClasses(), ...errorCodes()]
    expect(names).toContain('SessionExpiredError')
    expect(names).toContain('ERR_CONNECTION_CLOSED')
    const headings = headingsOf(committed('errors.md'))
    expect(names.filter(n => !headings.has(n))).toEqual([])
  })

  test('every member of the coordinator contract, and Lease, has a heading in coordinator.md', () => {
    const names = [...coordinatorMembers(), 'Lease', 'LockOptions', 'Snapshot', 'Message']
    const headings = headingsOf(committed('coordinator.md'))
    expect(names.filter(n => !headings.has(n))).toEqual([])
  })

  test('headingsOf reads code-span headings at any level below the title', () => {
    expect([...headingsOf('# `title`\n## `a`\n### `b.c`\n#### `d()`\n## prose\n')]).toEqual(['a', 'b.c', 'd()'])
  })
})
