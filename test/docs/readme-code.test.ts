/**
 * The documentation's code compiles: every ```ts, ```tsx, ```js and ```jsx block of README.md,
 * CONTRIBUTING.md and docs/**.md is typechecked, as its own module, against the package's types
 * (`rotor-auth*` mapped to src/), in one TypeScript program for all of them. JavaScript blocks are
 * checked as a `// @ts-check` file would be.
 *
 * A block that is not meant to compile (a fragment of a larger call, a console one-liner of
 * another language) says so, sparingly, in one of two ways: ```ts nocheck as its fence, or the
 * line `<!-- typecheck: skip (why) -->` right before the fence, which also says why.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { beforeAll, describe, expect, test } from 'vitest'
import { ROOT } from '../../bench/lib/bundle.js'

type Block = { file: string; line: number; lang: Lang; code: string; skip?: string }
type Lang = 'ts' | 'tsx' | 'js' | 'jsx'

/** A fence's language as the file extension its block is checked under. */
const LANGS: Record<string, Lang> = { ts: 'ts', typescript: 'ts', tsx: 'tsx', js: 'js', javascript: 'js', jsx: 'jsx' }

/** `<!-- typecheck: skip (why) -->` on the line before a fence leaves that block out; the reason is required. */
const SKIP = /^<!--\s*typecheck:\s*skip\s*\((.+)\)\s*-->\s*$/

function markdownFiles(): string[] {
  const docs = join(ROOT, 'docs')
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap(e => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : []))
  const top = ['README.md', 'CONTRIBUTING.md'].map(f => join(ROOT, f)).filter(f => existsSync(f))
  return [...top, ...walk(docs)]
}

export function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|tsx|typescript|js|jsx|javascript)(\s+nocheck)?\s*$/.exec(lines[i]!)
    if (!open) {
      // Skip other fences whole, so a ```ts inside a ```md example is not read as code.
      if (/^```/.test(lines[i]!)) while (++i < lines.length && !/^```\s*$/.test(lines[i]!));
      continue
    }
    const start = i
    const body: string[] = []
    while (++i < lines.length && !/^```\s*$/.test(lines[i]!)) body.push(lines[i]!)
    const skip = open[2] ? 'marked ```' + open[1] + ' nocheck' : SKIP.exec(lines[start - 1] ?? '')?.[1]
    blocks.push({ file, line: start + 1, lang: LANGS[open[1]!]!, code: body.join('\n'), ...(skip ? { skip } : {}) })
  }
  return blocks
}

/**
 * What the prose around the snippets supplies: the app's own values and helpers (a login form's
 * `username`, the React app's `App`, …) and the names an earlier snippet of the same section
 * imported. Global, so a snippet that declares or imports one of them shadows it.
 */
const CONTEXT = `
type RotorSession = import('rotor-auth').Session
declare const session: RotorSession
declare const createSession: typeof import('rotor-auth').createSession
declare const fromStripesConfig: typeof import('rotor-auth/folio').fromStripesConfig
declare const stripesConfig: Parameters<typeof import('rotor-auth/folio').fromStripesConfig>[0]
declare const username: string, password: string, tenant: string, user: string
declare const okapi: string, okapiUrl: string, url: string, importUrl: string, prefixUrl: string, baseURL: string
declare const data: unknown, tokenResponse: Response, loginResponse: Response, isFirstWorker: boolean
declare const batches: string[]
declare const code: string, redirect_uri: string, code_verifier: string
declare function loginAsServiceAccount(): Promise<Response>
declare function showLoginForm(reason: string): void
declare const xhr: XMLHttpRequest
declare const ky: typeof import('ky').default
declare const axios: typeof import('axios').default
declare const root: HTMLElement
declare const createRoot: typeof import('react-dom/client').createRoot
declare function App(): import('react').ReactElement
/** What the generated reference's option examples (docs/reference/options.md) name: a test's fakes, the app's own dialog and logger. */
declare const myWorkerCoordinator: import('rotor-auth').Coordinator
declare function showLoginDialog(): Promise<Response>
declare const cookieFetch: typeof import('rotor-auth/testing').cookieFetch
declare const fakeNow: number
declare const fake: { set(callback: () => void, ms: number): unknown; clear(handle: unknown): void }
declare const seeded: { next(): number }
declare const sim: Required<Pick<NonNullable<import('rotor-auth').SessionOptions['platform']>, 'channel' | 'locks'>>
declare const myLogger: { debug(entry: unknown): void }
/** The browser console's copy() (Chrome, Firefox), which the debugging guide's one-liner uses. */
declare function copy(value: string): void
declare function Modal(props: { onClose: () => void; children?: import('react').ReactNode }): import('react').ReactElement
`

/** The module `./stripes.config.js` that the FOLIO snippet imports: a Stripes config as an app has it. */
const STRIPES_CONFIG = `export default { okapi: { url: 'https://folio.example.org/okapi', tenant: 'diku' }, config: { rtr: { idleSessionTTL: '1h' } } }\n`

/** Both WebSocket classes fit the socket's option: `ws`'s (Node) and the browser's. */
const WEBSOCKET_CONSTRUCTORS = `import WebSocket from 'ws'
import type { SocketOptions } from 'rotor-auth/socket'
export const node: SocketOptions['WebSocket'] = WebSocket
export const browser: SocketOptions['WebSocket'] = globalThis.WebSocket
`

/** A JavaScript snippet that must fail: a session has no `rotateNow`. */
const JS_CANARY = `import { createSession } from 'rotor-auth'
const s = createSession({ scope: 'https://api.example.org' })
s.rotateNow()
export {}
`

const HERE = join(ROOT, 'test/docs/.snippets')
const virtual = new Map<string, string>()
const blocks = markdownFiles().flatMap(file => extractBlocks(file, readFileSync(file, 'utf8')))
const name = (b: Block) => `${relative(ROOT, b.file)}:${b.line}`
const pathOf = (b: Block) => join(HERE, `${relative(ROOT, b.file).replace(/[\\/.]/g, '_')}_${b.line}.${b.lang}`)

describe("the documentation's TypeScript", () => {
  let diagnostics: Map<string, string[]>

  beforeAll(() => {
    const config = ts.getParsedCommandLineOfConfigFile(
      join(ROOT, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: d => {
          throw new Error(String(d.messageText))
        },
      },
    )!
    const options: ts.CompilerOptions = {
      ...config.options,
      noEmit: true,
      // A new user's settings (`tsc --init`: strict), not this repo's stricter
      // exactOptionalPropertyTypes, which refuses e.g. `url: process.env.REDIS_URL`.
      exactOptionalPropertyTypes: false,
      // ```js blocks: checked as a user's `// @ts-check` file.
      allowJs: true,
      checkJs: true,
      // What a user's import resolves to, pointed at the source rather than a build.
      baseUrl: ROOT,
      paths: { 'rotor-auth': ['src/index.ts'], 'rotor-auth/xhr': ['src/xhr.ts'], 'rotor-auth/*': ['src/*/index.ts'] },
    }
    virtual.set(join(HERE, 'context.d.ts'), CONTEXT)
    virtual.set(join(HERE, 'stripes.config.ts'), STRIPES_CONFIG)
    virtual.set(join(HERE, 'websocket-constructors.ts'), WEBSOCKET_CONSTRUCTORS)
    virtual.set(join(HERE, 'js-canary.js'), JS_CANARY)
    // Every snippet a module of its own (`export {}`), so two snippets' `const session` never clash.
    for (const b of blocks) if (!b.skip) virtual.set(pathOf(b), `${b.code}\nexport {}\n`)
    const host = ts.createCompilerHost(options)
    const { getSourceFile, fileExists, readFile } = host
    host.fileExists = f => virtual.has(f) || fileExists.call(host, f)
    host.readFile = f => virtual.get(f) ?? readFile.call(host, f)
    // The snippets' folder exists only here: without this the resolver never looks in it.
    host.directoryExists = d => d === HERE || ts.sys.directoryExists(d)
    host.getSourceFile = (f, language, ...rest) => {
      const text = virtual.get(f)
      return text === undefined ? getSourceFile.call(host, f, language, ...rest) : ts.createSourceFile(f, text, language, true)
    }
    const program = ts.createProgram([...virtual.keys()], options, host)
    diagnostics = new Map()
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const file = d.file?.fileName ?? '(global)'
      const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0
      const list = diagnostics.get(file) ?? []
      list.push(`line ${at} of the block: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
      diagnostics.set(file, list)
    }
    // One program over every snippet: ~10 s alone, minutes on a machine shared with other runs.
  }, 300_000)

  test('there is code to check', () => {
    expect(blocks.filter(b => !b.skip).length).toBeGreaterThan(10)
  })

  test("the socket's WebSocket option takes ws's class and the browser's", () => {
    expect(diagnostics.get(join(HERE, 'websocket-constructors.ts')) ?? []).toEqual([])
  })

  test('nothing outside the snippets fails (the context and the package itself)', () => {
    const checked = new Set([...blocks.map(pathOf), join(HERE, 'websocket-constructors.ts'), join(HERE, 'js-canary.js')])
    const others = [...diagnostics].filter(([file]) => !checked.has(file))
    expect(others).toEqual([])
  })

  test.each(blocks.map(b => [name(b), b] as const))('%s typechecks', (_name, block) => {
    if (block.skip) {
      expect(block.skip.trim().length, 'a skipped block says why').toBeGreaterThan(3)
      return
    }
    expect(diagnostics.get(pathOf(block)) ?? [], `\n${block.code}\n`).toEqual([])
  })

  test('the extractor sees ts and tsx fences, skips other fences whole, and reads the skip marker', () => {
    const md = ['```md', '```ts', 'not code', '```', '<!-- typecheck: skip (a fragment) -->', '```ts', 'a()', '```', '```tsx', '<b/>', '```'].join('\n')
    expect(extractBlocks('x.md', md)).toEqual([
      { file: 'x.md', line: 6, lang: 'ts', code: 'a()', skip: 'a fragment' },
      { file: 'x.md', line: 9, lang: 'tsx', code: '<b/>' },
    ])
  })

  test('the extractor sees js and jsx fences, and a nocheck fence as a skipped block', () => {
    const md = ['```js', 'a()', '```', '```javascript', 'b()', '```', '```jsx', '<c/>', '```', '```ts nocheck', '{ fragment', '```', '```sh', 'npm test', '```'].join('\n')
    expect(extractBlocks('x.md', md)).toEqual([
      { file: 'x.md', line: 1, lang: 'js', code: 'a()' },
      { file: 'x.md', line: 4, lang: 'js', code: 'b()' },
      { file: 'x.md', line: 7, lang: 'jsx', code: '<c/>' },
      { file: 'x.md', line: 10, lang: 'ts', code: '{ fragment', skip: 'marked ```ts nocheck' },
    ])
  })

  test('CONTRIBUTING.md and docs/ are read, the generated reference included', () => {
    const files = new Set(markdownFiles().map(f => relative(ROOT, f)))
    expect(files.has('docs/reference/options.md')).toBe(true)
    expect(files.has('CONTRIBUTING.md')).toBe(existsSync(join(ROOT, 'CONTRIBUTING.md')))
  })

  test('a JavaScript block is checked: a wrong call in one fails', () => {
    // A canary of the checker itself, through the same program: without checkJs it passes silently.
    expect(diagnostics.get(join(HERE, 'js-canary.js'))?.join('\n')).toMatch(/TS2551|TS2339/)
  })
})
