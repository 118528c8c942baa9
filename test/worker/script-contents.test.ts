/**
 * What the rotation worker's script leaves out (tsup.config.ts's `notInWorker`), module by
 * module as bench/lib/bundle.ts builds it: each is a part the hub's session never runs, and a
 * change that brings one back (an import that slips past its stand-in) fails here by name,
 * before the byte budget of test/size/budgets.test.ts notices it as a number.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { measureWorker, ROOT } from '../../bench/lib/bundle.js'
import { NOT_IN_WORKER } from '../../tsup.config.js'

describe("the rotation worker's script", () => {
  let modules: Record<string, number>

  beforeAll(async () => {
    modules = (await measureWorker()).inputs
  }, 60_000)

  it.each([
    ['src/core/options.ts', "the page's option validator: the hub checks a posted config's shape (src/worker/hub-config.ts)"],
    ['src/trace/options.ts', 'the `debug` and `traceSize` checks'],
    ['src/core/gate.ts', 'the gate holding requests: no request waits in the worker'],
    ['src/core/waits.ts', 'the waits of sockets and streams'],
    ['src/trace/kinds.ts', "the check of a peer's trace entries: the worker never asks for a trace"],
    ['src/interceptors/interception.ts', "the page's request path"],
    ['src/interceptors/loop-guard.ts', "the loop guard: it marks the session's calls for the page's interceptors"],
    ['src/utils/redact.ts', "a refusal's body, redacted: no one reads the worker's errors, which say the status alone"],
  ])('leaves %s out (%s)', module => {
    expect(modules, 'the worker script was measured').toHaveProperty(['src/worker/hub.ts'])
    expect(Object.keys(modules)).not.toContain(module)
  })

  it("keeps what the hub runs: its config check, the refresh call, and of the trace's peers only the answer", () => {
    for (const module of ['src/worker/hub-config.ts', 'src/core/refresh-call.ts', 'src/core/rotator.ts']) expect(modules[module], module).toBeGreaterThan(0)
    // `answer` alone is about 150 B minified; with `heard`, `ask` and `merge` the module is ten times that.
    expect(modules['src/trace/peers.ts']).toBeLessThan(400)
  })
})

describe("the worker's stand-in classes", () => {
  // A stand-in class is built where the real one was: every member its importer calls on it must
  // be there. One missing throws in the worker only (round 4, session 15: the roll call's
  // `holding`, called at every change of the hub's state), which Chromium never reports: only
  // Firefox sends a SharedWorker's uncaught error to its pages (test/browser/worker-bad-options.test.ts).
  const classes = NOT_IN_WORKER.flatMap(({ importer, contents }) => {
    const name = contents?.match(/export class (\w+)/)?.[1]
    return name ? [{ importer, name, contents: contents! }] : []
  })

  it('there are some (the check below has something to check)', () => {
    expect(classes.map(c => c.name)).toEqual(expect.arrayContaining(['RollCall', 'Gate']))
  })

  it.each(classes.map(c => [c.name, c] as const))('%s has every member its importer calls', (_, { importer, name, contents }) => {
    const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).map(f => join(ROOT, 'src', f)).filter(f => importer.test(f))
    expect(files.length).toBeGreaterThan(0)
    for (const file of files) {
      const source = readFileSync(file, 'utf8')
      // The fields holding an instance: `this.#x = new Name(` or `const x = new Name(`.
      const fields = [...source.matchAll(new RegExp(`(#?\\w+) = new ${name}\\(`, 'g'))].map(m => m[1]!)
      expect(fields.length, `${file} builds a ${name}`).toBeGreaterThan(0)
      for (const field of fields) {
        const called = [...source.matchAll(new RegExp(`${field.replace('#', '#?')}\\.(\\w+)\\(`, 'g'))].map(m => m[1]!)
        for (const member of new Set(called)) expect(contents, `${name}'s stand-in lacks ${member}(), which ${file} calls`).toMatch(new RegExp(`\\b${member}\\(`))
      }
    }
  })
})

describe("the worker's stand-in modules", () => {
  // The worker's build resolves the import to its stand-in: a name the importer takes that the
  // stand-in lacks fails only a build without dropped labels (round 4, session 16: sync.ts's
  // `newerSession`, used in a dropped branch, broke the browser tests' worker bundle alone).
  it.each(NOT_IN_WORKER.map(s => [s.path, s] as const))('%s exports every value its importer imports', (path, { importer, exports }) => {
    const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).map(f => join(ROOT, 'src', f)).filter(f => importer.test(f))
    expect(files.length).toBeGreaterThan(0)
    for (const file of files) {
      for (const [, names, from] of readFileSync(file, 'utf8').matchAll(/^import \{([^}]*)\} from '([^']+)'/gm)) {
        if (from !== path) continue
        // Values only: a type (`type X`) is gone once compiled.
        const values = names!
          .split(',')
          .map(n => n.trim())
          .filter(n => n && !n.startsWith('type '))
        for (const name of values) expect(exports, `${file} imports ${name} from ${path}`).toContain(name.split(' as ')[0])
      }
    }
  })
})
