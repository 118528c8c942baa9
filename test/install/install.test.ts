/**
 * A new user's install: the packed tarball goes into scratch projects that already hold other
 * versions of the optional peers (and one that holds none), installs without ERESOLVE, and
 * every entry loads from ESM and CommonJS and typechecks under node16, bundler and node10.
 * Needs the npm registry (or a warm npm cache: --prefer-offline).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ROOT } from '../../bench/lib/bundle.js'
import { packTo } from '../build/build-once.js'

const run = promisify(execFile)
const root = mkdtempSync(join(tmpdir(), 'rotor-install-'))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }
/** Every entry a user can import: `rotor-auth`, `rotor-auth/xhr`, … */
const ENTRIES = Object.keys(pkg.exports)
  .filter(key => key !== './package.json')
  .map(key => (key === '.' ? 'rotor-auth' : `rotor-auth/${key.slice(2)}`))

type Project = {
  name: string
  /** What the project holds before rotor-auth arrives. */
  dependencies: Record<string, string>
  /** The React it holds, if any: rotor-auth/react needs 18 (useSyncExternalStore). */
  react?: 17 | 18
  /** The tough-cookie major cookieFetch must work with here (fetch-cookie beside it). */
  toughCookie?: number
  msw?: boolean
}

const PROJECTS: Project[] = [
  { name: 'none', dependencies: {} },
  { name: 'redis@4', dependencies: { redis: '^4.7.0' } },
  { name: 'msw@2.14', dependencies: { msw: '~2.14.0' }, msw: true },
  // fetch-cookie 3.1 depends on tough-cookie 5; 3.0 on 4: the jar is the app's own.
  { name: 'tough-cookie@5 + react@18', dependencies: { 'tough-cookie': '^5.0.0', 'fetch-cookie': '~3.1.0', react: '^18.3.0' }, toughCookie: 5, react: 18 },
  { name: 'react@17 + tough-cookie@4', dependencies: { react: '^17.0.2', 'tough-cookie': '^4.1.0', 'fetch-cookie': '~3.0.1' }, toughCookie: 4, react: 17 },
]

const dirOf = (p: Project) => join(root, p.name.replace(/[^a-z0-9]+/gi, '-'))
const installs = new Map<string, { ok: boolean; output: string }>()

/** Runs `jobs` with at most `limit` at a time (2 cores, shared). */
async function pool<T>(items: T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await job(item)
    }),
  )
}

/** A Node script in the project; returns what it printed on its last line, parsed. */
async function node(p: Project, file: string, code: string): Promise<Record<string, unknown>> {
  writeFileSync(join(dirOf(p), file), code)
  const { stdout } = await run(process.execPath, [file], { cwd: dirOf(p), timeout: 60_000 })
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>
}

/** Loads every entry; records the number of its exports, or the first line of its error. */
const loadAll = (load: string) => `const loaded = {}
for (const entry of ${JSON.stringify(ENTRIES)}) {
  try { loaded[entry] = Object.keys(${load}).length } catch (e) { loaded[entry] = 'error: ' + String(e.message).split('\\n')[0] }
}
console.log(JSON.stringify(loaded))`

describe('installing the packed tarball', () => {
  beforeAll(async () => {
    const tarball = await packTo(root)
    await pool(PROJECTS, 2, async p => {
      mkdirSync(dirOf(p))
      writeFileSync(join(dirOf(p), 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, dependencies: p.dependencies }, null, 2))
      // One npm cache for every project (the user's): --prefer-offline reuses it.
      const args = ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error']
      const result = await run('npm', args, { cwd: dirOf(p), timeout: 150_000 }).then(
        ({ stdout, stderr }) => ({ ok: true, output: stdout + stderr }),
        (error: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}${error.message}` }),
      )
      installs.set(p.name, result)
    })
  }, 420_000)
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  describe.each(PROJECTS.map(p => [p.name, p] as const))('into a project with %s', (_name, p) => {
    test('npm install succeeds, with no ERESOLVE', () => {
      const install = installs.get(p.name)!
      expect(install.output).not.toMatch(/ERESOLVE/)
      expect(install.ok, install.output).toBe(true)
    })

    test.each([
      ['ESM', 'load.mjs', loadAll('await import(entry)')],
      ['CommonJS', 'load.cjs', loadAll('require(entry)')],
    ])(
      '%s: every entry loads; the worker and a missing React say why not',
      async (format, file, code) => {
        const loaded = await node(p, file, code)
        for (const entry of ENTRIES) {
          const got = loaded[entry]
          if (entry === 'rotor-auth/worker') expect(got, entry).toMatch(/^error: rotor-auth\/worker is the rotation worker's script .*does not run in Node/)
          else if (entry === 'rotor-auth/react' && p.react === undefined) expect(got, entry).toMatch(/^error: Cannot find (module|package) 'react'/)
          // React 17 has no useSyncExternalStore: the ESM entry cannot link (README: React 18+).
          else if (entry === 'rotor-auth/react' && p.react === 17 && format === 'ESM') expect(got, entry).toMatch(/useSyncExternalStore/)
          else if (entry === 'rotor-auth/react' && p.react === 17) continue
          else expect(got, entry).toBeGreaterThan(0)
        }
      },
      60_000,
    )

    test('rotor-auth/testing: the HTTP face logs in, whatever peers the project lacks', async () => {
      const result = await node(
        p,
        'http-face.mjs',
        `import { createAuthServer } from 'rotor-auth/testing'
const server = createAuthServer()
const { url, close } = await server.listen()
const login = await fetch(url + '/bearer/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'diku_admin', password: 'admin' }) })
console.log(JSON.stringify({ status: login.status, logins: server.stats.logins }))
await close()
`,
      )
      expect(result).toEqual({ status: 201, logins: 1 })
    }, 60_000)

    test.runIf(p.msw)(
      "rotor-auth/testing: handlers() serve the project's msw",
      async () => {
        const result = await node(
          p,
          'msw-face.mjs',
          `import { setupServer } from 'msw/node'
import { readFileSync } from 'node:fs'
import { createAuthServer } from 'rotor-auth/testing'
const server = createAuthServer()
const msw = setupServer(...(await server.handlers('http://auth.test')))
msw.listen({ onUnhandledRequest: 'error' })
const login = await fetch('http://auth.test/bearer/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'diku_admin', password: 'admin' }) })
msw.close()
const version = JSON.parse(readFileSync('node_modules/msw/package.json', 'utf8')).version
console.log(JSON.stringify({ status: login.status, logins: server.stats.logins, version }))
`,
        )
        expect(result).toEqual({ status: 201, logins: 1, version: expect.stringMatching(/^2\.14\./) })
      },
      60_000,
    )

    test.runIf(p.toughCookie)(
      "rotor-auth/testing: cookieFetch keeps FOLIO's cookies in the project's tough-cookie",
      async () => {
        const result = await node(
          p,
          'cookies.mjs',
          `import { readFileSync } from 'node:fs'
import { cookieFetch, createAuthServer } from 'rotor-auth/testing'
const server = createAuthServer()
const { url, close } = await server.listen()
const browser = cookieFetch()
const login = await browser(url + '/authn/login-with-expiry', { method: 'POST', headers: { 'content-type': 'application/json', 'x-okapi-tenant': server.tenant }, body: JSON.stringify({ username: 'diku_admin', password: 'admin' }) })
const refresh = await browser(url + '/authn/refresh', { method: 'POST', headers: { 'x-okapi-tenant': server.tenant } })
const cookies = (await browser.cookieString(url + '/authn/refresh')).split('; ').map(c => c.split('=')[0]).sort()
const version = JSON.parse(readFileSync('node_modules/tough-cookie/package.json', 'utf8')).version
console.log(JSON.stringify({ login: login.status, refresh: refresh.status, granted: server.stats.refreshGranted, cookies, version }))
await close()
`,
        )
        expect(result).toEqual({
          login: 201,
          refresh: 201,
          granted: 1,
          cookies: ['folioAccessToken', 'folioRefreshToken'],
          version: expect.stringMatching(new RegExp(`^${p.toughCookie}\\.`)),
        })
      },
      60_000,
    )
  })

  describe('TypeScript in the project without any peer', () => {
    const p = PROJECTS[0]!
    const source = `import { createSession, isRotorError } from 'rotor-auth'
import { xhr } from 'rotor-auth/xhr'
import { createSocket } from 'rotor-auth/socket'
import { createFolioSession } from 'rotor-auth/folio'
import { SessionProvider } from 'rotor-auth/react'
import { createAuthServer, type MswHandler } from 'rotor-auth/testing'
import { createRedisCoordinator } from 'rotor-auth/redis'
import type {} from 'rotor-auth/worker'

export const session = createSession({ scope: 'https://api.example.org', transport: 'bearer', refresh: 'https://api.example.org/token' })
export const handlers: Promise<MswHandler[]> = createAuthServer().handlers()
export { createFolioSession, createRedisCoordinator, createSocket, isRotorError, SessionProvider, xhr }
`
    // The app's own @types (node, and react for the React entry) come from this repository:
    // the scratch project holds no types of its own, and none of msw's.
    const base = {
      strict: true,
      skipLibCheck: false,
      noEmit: true,
      lib: ['es2022', 'dom'],
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')],
      paths: { react: [join(ROOT, 'node_modules/@types/react/index.d.ts')] },
    }
    // node16 checks the package's .d.ts files too (skipLibCheck: false: the testing entry's types
    // need no msw); the other two only how each import resolves and types the snippet, since
    // checking every declaration file again takes ~40 s each on a loaded machine.
    test.each([
      ['node16 (ESM and CJS files)', { module: 'node16', moduleResolution: 'node16' }, ['entries.mts', 'entries.cts']],
      ['bundler', { module: 'esnext', moduleResolution: 'bundler', skipLibCheck: true }, ['entries.ts']],
      ['node10', { module: 'commonjs', moduleResolution: 'node10', skipLibCheck: true }, ['entries.ts']],
    ])(
      '%s: every entry typechecks',
      async (name, resolution, files) => {
        expect(installs.get(p.name)?.ok).toBe(true)
        for (const file of files) writeFileSync(join(dirOf(p), file), source)
        const config = join(dirOf(p), `tsconfig.${name.split(' ')[0]}.json`)
        writeFileSync(config, JSON.stringify({ compilerOptions: { ...base, ...resolution }, files }))
        const result = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', config], { cwd: dirOf(p), timeout: 90_000 }).then(
          () => '',
          (error: { stdout: string }) => error.stdout,
        )
        expect(result).toBe('')
      },
      120_000,
    )
  })
})
