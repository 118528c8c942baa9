/**
 * The statements the rotation worker's build drops (`notInWorker:` labels, tsup.config.ts's
 * WORKER_DROPS) are ones the hub never runs: a dropped member is never named in the script, so
 * nothing there can call it, and a dropped branch of a plain function is one the hub's session
 * options never take. A change that calls one from the worker fails here by name.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { beforeAll, describe, expect, it } from 'vitest'
import { measureWorker, ROOT } from '../../bench/lib/bundle.js'

type Drop = { file: string; line: number; member: string | undefined; fn: string | undefined }

/** Every `notInWorker:` label in src/, with the class or object member around it, else the function. */
function drops(): Drop[] {
  const found: Drop[] = []
  const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).filter(f => f.endsWith('.ts'))
  for (const name of files) {
    const path = join(ROOT, 'src', name)
    const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true)
    const visit = (node: ts.Node): void => {
      if (ts.isLabeledStatement(node) && node.label.text === 'notInWorker') {
        let at: ts.Node | undefined = node.parent
        while (at && !ts.isFunctionLike(at)) at = at.parent
        // A function declared inside another is handed out as the member of its name (session.ts's install).
        const inner = at && ts.isFunctionDeclaration(at) && !ts.isSourceFile(at.parent.parent ?? at.parent)
        const member = at && (ts.isMethodDeclaration(at) || ts.isGetAccessorDeclaration(at) || inner) ? (at as ts.FunctionLikeDeclaration).name?.getText(source) : undefined
        let fn = at && ts.isFunctionDeclaration(at) && !inner ? at.name?.text : undefined
        // A branch in a callback of a method the hub does run (sync.ts publish's answer to its write): listed by the method's name.
        for (let up: ts.Node | undefined = at; !member && !fn && up; up = up.parent) if (ts.isMethodDeclaration(up)) fn = up.name.getText(source)
        found.push({ file: relative(ROOT, path), line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, member, fn })
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return found
}

/** The options object the hub builds its session from (src/worker/hub-session.ts): its keys. */
function hubSessionOptionKeys(): string[] {
  const path = join(ROOT, 'src/worker/hub-session.ts')
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true)
  let keys: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && node.name.getText(source) === 'options' && node.initializer && ts.isObjectLiteralExpression(node.initializer)) {
      keys = node.initializer.properties.map(p => (p.name ? p.name.getText(source) : p.getText(source)))
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return keys
}

/** The source of each module of src/worker/ in the script (the hub's own), checked to be more than a few. */
function hubSources(inputs: string[]): Array<[file: string, source: string]> {
  const hub = inputs.filter(file => file.startsWith('src/worker/'))
  expect(hub.length).toBeGreaterThan(3)
  return hub.map(file => [file, readFileSync(join(ROOT, file), 'utf8')])
}

/** No module of src/worker/ in the script disposes anything: the hub's session lives as long as its run. */
function neverDisposed(_: string[], inputs: string[]): void {
  for (const [file, source] of hubSources(inputs)) expect(source, file).not.toMatch(/\.dispose\(/)
}

/** Plain functions with a dropped branch, and why the hub's session never takes it. */
const FUNCTIONS: Record<string, (keys: string[], inputs: string[]) => void> = {
  // src/session.ts: the worker's own session is handed the hub's coordinator.
  coordinatorOf: keys => expect(keys).toContain('coordinator'),
  // src/platform/defaults.ts: a worker's global has no localStorage (HTML exposes it to Window alone), and the hub's
  // session, handed the hub's coordinator, keeps no store of its own.
  localStorage: keys => expect(keys).toContain('coordinator'),
  // src/session.ts: the hub never gives its session `idle`.
  idleOf: keys => expect(keys).not.toContain('idle'),
  // src/core/sync.ts publish: a newer state adopted while the write was on its way; the hub's store writes at once (no promise).
  publish: () => expect(readFileSync(join(ROOT, 'src/worker/hub.ts'), 'utf8')).toMatch(/\n {4}write: next => this\.#store\(next\),\n/),
  // src/core/rotate-requests.ts: the hub passes its session no rotate-request ahead of the hub's generation.
  readAhead: () => expect(readFileSync(join(ROOT, 'src/worker/hub.ts'), 'utf8')).toMatch(/if \(message\.generation > current\) return\n/),
  // src/session.ts: a disposed session's teardown.
  teardown: neverDisposed,
  // src/core/policy.ts: the hub's session rotates under the hub's own lock, no leader's (whose follower wait fails with no retry
  // armed), and the hub keeps no bearer state without its AT (so the rotator never waits for tokens by message and gives up).
  '#rotateQuietly': () => {
    const hub = readFileSync(join(ROOT, 'src/worker/hub.ts'), 'utf8')
    expect(hub).toMatch(/\n {4}lock: fn => this\.#rtOrGrace\(\)\.then\(\(\) => this\.#lock\.run\(fn\)\),\n/)
    expect(hub).toMatch(/next\.status === 'active' && !next\.refreshToken && !next\.ending && \(this\.#snapshot\?\.refreshToken \|\| !next\.accessToken\)/)
  },
  // src/core/sync.ts: a disposed session's end.
  publishEnd: neverDisposed,
  // src/core/state.ts: no module of src/worker/ in the script subscribes to the session's events; the session's
  // own subscriptions name their events as literals, which tsc checks against SessionEvents.
  checkListener: (_, inputs) => {
    for (const [file, source] of hubSources(inputs)) expect(source, file).not.toMatch(/\.on\(/)
  },
}

describe("what the rotation worker's build drops", () => {
  let script: string
  let inputs: string[]
  const all = drops()

  beforeAll(async () => {
    const built = await measureWorker()
    script = built.code
    inputs = Object.keys(built.inputs)
  }, 60_000)

  it('finds the labels, each in a member or in a function listed here', () => {
    expect(all.length).toBeGreaterThan(5)
    for (const d of all) expect(d.member ?? (d.fn && d.fn in FUNCTIONS ? d.fn : undefined), `${d.file}:${d.line}`).toBeDefined()
  })

  it.each(all.filter(d => d.member).map(d => [d.member!, `${d.file}:${d.line}`]))('never names %s (%s) in the script', member => {
    // Minified, a member is reached as `.name` or `["name"]`; its own definition is `name(` or `get name(`.
    expect(script).not.toMatch(new RegExp(`\\.${member}\\b|["'\`]${member}["'\`]`))
  })

  it('drops them: a dropped method is empty in the script', () => {
    expect(script).toMatch(/whenStarted\([^)]*\)\{\}/)
    expect(script).toMatch(/expiredInFlight\(\)\{\}/)
  })

  it.each(Object.keys(FUNCTIONS))("%s's dropped branch is one the hub's session options never take", fn => {
    expect(all.some(d => d.fn === fn)).toBe(true)
    FUNCTIONS[fn]!(hubSessionOptionKeys(), inputs)
  })
})
