/**
 * The published builds, as a user loads them: `npm run build`, then a child `node` requires
 * the CJS build (and imports the ESM one), logs in to the reference server and rotates. The
 * CJS build could never refresh before (ky's default export lost in require(esm) interop).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ROOT } from '../../bench/lib/bundle.js'
import { buildOnce } from './build-once.js'
import { PROTOCOL_VERSION } from '../../src/worker/protocol.js'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'rotor-dist-'))

/** The same job in both module systems: log in, rotate, print what the server counted. */
function job(load: string): string {
  return `${load}
  const server = createAuthServer({ accessTokenTtl: 60000 })
  const { url, close } = await server.listen()
  const login = await fetch(url + '/bearer/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'diku_admin', password: 'admin' }) })
  const session = createSession({ scope: url + '/api', transport: 'bearer', refresh: { url: url + '/bearer/refresh', style: 'json' }, logout: false })
  await session.start(login)
  await session.rotate()
  const api = await session.fetch(url + '/api/x')
  console.log(JSON.stringify({ generation: session.state.generation, granted: server.stats.refreshGranted, api: api.status }))
  session.dispose()
  await close()`
}

describe('the built package', () => {
  beforeAll(buildOnce, 300_000)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test.each([
    [
      'CommonJS (require)',
      'job.cjs',
      `const { createSession } = require(${JSON.stringify(join(ROOT, 'dist/index.cjs'))})
  const { createAuthServer } = require(${JSON.stringify(join(ROOT, 'dist/testing/index.cjs'))})
  ;(async () => {`,
      '})()',
    ],
    [
      'ESM (import)',
      'job.mjs',
      `const { createSession } = await import(${JSON.stringify(join(ROOT, 'dist/index.js'))})
  const { createAuthServer } = await import(${JSON.stringify(join(ROOT, 'dist/testing/index.js'))})
  {`,
      '}',
    ],
  ])(
    '%s: logs in, rotates through the on-demand refresh chunk, and sends with the new AT',
    async (_name, file, head, tail) => {
      const path = join(dir, file)
      writeFileSync(path, `${job(head)}\n${tail}\n`)
      const { stdout } = await run(process.execPath, [path], { cwd: ROOT })
      expect(JSON.parse(stdout.trim())).toEqual({ generation: 2, granted: 1, api: 200 })
    },
    30_000,
  )

  test.each([
    [
      'CommonJS (require)',
      'socket.cjs',
      `const { createSession } = require(${JSON.stringify(join(ROOT, 'dist/index.cjs'))})
  const { createSocket } = require(${JSON.stringify(join(ROOT, 'dist/socket/index.cjs'))})
  ;(async () => {`,
      '})()',
    ],
    [
      'ESM (import)',
      'socket.mjs',
      `const { createSession } = await import(${JSON.stringify(join(ROOT, 'dist/index.js'))})
  const { createSocket } = await import(${JSON.stringify(join(ROOT, 'dist/socket/index.js'))})
  {`,
      '}',
    ],
  ])(
    '%s: rotor-auth/socket loads and knows a session that is over, across the two entries',
    async (_name, file, head, tail) => {
      // The socket entry tells a SessionExpiredError thrown by the main entry by its code: in
      // the CJS build each entry has its own copy of the class.
      const body = `${head}
  const session = createSession({ scope: 'http://127.0.0.1:9/api', transport: 'bearer', refresh: 'http://127.0.0.1:9/r', logout: false })
  // Over, not merely not started (a socket waits for a first login): started, then logged out
  // (logout: false, so no server is needed).
  await session.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 300 })
  await session.logout()
  // Never constructed: the session is not active, so the socket closes before connecting.
  const WebSocket = class { constructor() { throw new Error('connected') } }
  const socket = createSocket(session, { WebSocket, url: 'ws://127.0.0.1:9/ws' })
  socket.on('close', ({ reason }) => console.log(JSON.stringify({ reason, status: socket.status })))
  ${tail}\n`
      const path = join(dir, file)
      writeFileSync(path, body)
      const { stdout } = await run(process.execPath, [path], { cwd: ROOT })
      expect(JSON.parse(stdout.trim())).toEqual({ reason: 'rotor-auth: session ended (user)', status: 'closed' })
    },
    30_000,
  )

  // isRotorError() of either copy recognises the errors of the other, where instanceof cannot:
  // an app whose code is ESM and one of its dependencies CJS holds two copies of the classes.
  test('isRotorError() and the codes work across the ESM and CJS builds', async () => {
    const path = join(dir, 'cross.mjs')
    writeFileSync(
      path,
      `import { createRequire } from 'node:module'
const cjs = createRequire(import.meta.url)(${JSON.stringify(join(ROOT, 'dist/index.cjs'))})
const esm = await import(${JSON.stringify(join(ROOT, 'dist/index.js'))})
const caught = async call => { try { await call() } catch (e) { return e } }
const fromCjs = await caught(() => cjs.createSession({ scope: 'http://127.0.0.1:9', rotaton: 'timer' }))
const disposed = esm.createSession({ scope: 'http://127.0.0.1:9', crossTab: false })
disposed.dispose()
const fromEsm = await caught(() => disposed.start({ accessTokenExpiration: Date.now() + 60000 }))
console.log(JSON.stringify({
  cjsByEsm: [esm.isRotorError(fromCjs), fromCjs.code, fromCjs instanceof TypeError, fromCjs instanceof esm.RotorTypeError],
  esmByCjs: [cjs.isRotorError(fromEsm), fromEsm.code, fromEsm.reason, fromEsm instanceof cjs.RotorError],
  plain: [esm.isRotorError(new Error('x')), cjs.isRotorError({ code: 'ERR_ROTATION' })],
}))`,
    )
    const { stdout } = await run(process.execPath, [path], { cwd: ROOT })
    expect(JSON.parse(stdout.trim())).toEqual({
      cjsByEsm: [true, 'ERR_INVALID_OPTION', true, false],
      esmByCjs: [true, 'ERR_SESSION_EXPIRED', 'disposed', false],
      plain: [false, false],
    })
  }, 30_000)

  // rotor-auth/redis loads without `redis` (an optional peer: the caller brings the client)
  // and validates its options in both module systems.
  test.each([
    ['CommonJS (require)', 'redis.cjs', `const { createRedisCoordinator } = require(${JSON.stringify(join(ROOT, 'dist/redis/index.cjs'))})`],
    ['ESM (import)', 'redis.mjs', `const { createRedisCoordinator } = await import(${JSON.stringify(join(ROOT, 'dist/redis/index.js'))})`],
  ])(
    '%s: rotor-auth/redis loads and names a bad option',
    async (_name, file, load) => {
      const path = join(dir, file)
      writeFileSync(
        path,
        `${load}
try { createRedisCoordinator({ client: {}, name: 'x', key: new Uint8Array(32) }) } catch (e) { console.log((e instanceof TypeError) + ' ' + e.code + ': ' + e.message) }`,
      )
      const { stdout } = await run(process.execPath, [path], { cwd: ROOT })
      // A TypeError (the contract's word for a bad option) that carries its code.
      expect(stdout).toMatch(/^true ERR_INVALID_OPTION: .*`client`/)
    },
    30_000,
  )

  test('rotor-auth/worker is one classic script with no imports, and it welcomes a tab', async () => {
    const script = join(ROOT, 'dist/rotor-worker.js')
    const code = readFileSync(script, 'utf8')
    // A SharedWorker loads it by URL as a classic script: nothing may be left to import.
    expect(code).not.toMatch(/(^|[;\n])\s*import\s*[{*\w]|\brequire\(|\bimport\(/)
    const path = join(dir, 'worker-host.mjs')
    // A SharedWorkerGlobalScope as far as the script uses it: a name and `connect` events.
    writeFileSync(
      path,
      `globalThis.name = 'rotor-auth:dist'
let onConnect
globalThis.addEventListener = (type, listener) => { if (type === 'connect') onConnect = listener }
await import(${JSON.stringify(script)})
const { port1, port2 } = new MessageChannel()
onConnect({ ports: [port2] })
port1.onmessage = event => { console.log(JSON.stringify(event.data)); port1.close(); port2.close(); process.exit(0) }
port1.postMessage({ w: 'hello', id: 7, version: ${PROTOCOL_VERSION}, reauthenticates: false, config: { transport: 'cookie', rotation: 'timer', refresh: { url: 'http://127.0.0.1:9/authn/refresh', style: 'folio' }, logout: false, headers: [], rotateAt: 0.8, refreshTimeout: 1000, refreshRetries: 0, queueTimeout: 1000 } })
`,
    )
    const { stdout } = await run(process.execPath, [path], { cwd: ROOT })
    expect(JSON.parse(stdout.trim())).toEqual({ w: 'welcome', id: 7, version: PROTOCOL_VERSION })
  }, 30_000)

  test('npx rotor-auth init <dir> copies the worker script and its source map; anything else prints the usage and exits 2', async () => {
    const cli = join(ROOT, 'dist/cli.js')
    const target = join(dir, 'public')
    const { stdout } = await run(process.execPath, [cli, 'init', target], { cwd: dir })
    expect(stdout).toMatch(/wrote .*rotor-worker\.js and .*rotor-worker\.js\.map/)
    expect(readFileSync(join(target, 'rotor-worker.js'))).toEqual(readFileSync(join(ROOT, 'dist/rotor-worker.js')))
    // The map the copied script names is beside it (a devtools session would 404 on it otherwise).
    const named = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(target, 'rotor-worker.js'), 'utf8'))?.[1]
    expect(named).toBe('rotor-worker.js.map')
    expect(readFileSync(join(target, named!))).toEqual(readFileSync(join(ROOT, 'dist/rotor-worker.js.map')))
    const fails = (args: string[]) =>
      run(process.execPath, [cli, ...args], { cwd: dir }).then(
        () => undefined,
        (error: { code: number; stdout: string }) => error,
      )
    const unknown = await fails(['inti', target])
    expect(unknown?.code).toBe(2)
    expect(unknown?.stdout).toMatch(/unknown command "inti .*Usage: npx rotor-auth init <public dir>/s)
    for (const args of [[], ['init']]) {
      const usage = await fails(args)
      expect(usage?.code, `rotor-auth ${args.join(' ')}`).toBe(2)
      expect(usage?.stdout).toMatch(/^Usage: npx rotor-auth init <public dir>/)
    }
  }, 30_000)

  test.each([
    ['CommonJS (require)', ['-e', "require('rotor-auth/worker')"]],
    ['ESM (import)', ['--input-type=module', '-e', "await import('rotor-auth/worker')"]],
  ])(
    '%s: rotor-auth/worker in Node fails with an error that says what the entry is for',
    async (_name, args) => {
      // Run from the package root, so that `rotor-auth` resolves to this package through its exports.
      const failed = await run(process.execPath, args, { cwd: ROOT }).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      )
      expect(failed?.code).toBe(1)
      expect(failed?.stderr).toMatch(/Error: rotor-auth\/worker is the rotation worker's script .* it does not run in Node\..*`worker` option.*npx rotor-auth init/)
    },
    30_000,
  )

  test.each([
    [
      'CommonJS (require)',
      'no-msw.cjs',
      `const { createAuthServer } = require(${JSON.stringify(join(ROOT, 'dist/testing/index.cjs'))})
  ;(async () => {`,
      '})()',
    ],
    [
      'ESM (import)',
      'no-msw.mjs',
      `const { createAuthServer } = await import(${JSON.stringify(join(ROOT, 'dist/testing/index.js'))})
  {`,
      '}',
    ],
  ])(
    '%s: rotor-auth/testing loads and serves without msw; handlers() names the missing peer',
    async (_name, file, head, tail) => {
      // msw is installed here: hide it from both loaders, as in a project that never installed it.
      const hide = join(dir, 'hide-msw.cjs')
      writeFileSync(
        hide,
        `const Module = require('node:module')
const missing = s => s === 'msw' || s.startsWith('msw/')
const resolve = Module._resolveFilename
Module._resolveFilename = function (s, ...rest) { if (missing(s)) throw Object.assign(new Error("Cannot find module '" + s + "'"), { code: 'MODULE_NOT_FOUND' }); return resolve.call(this, s, ...rest) }
Module.register('data:text/javascript,' + encodeURIComponent(
  'export async function resolve(s, c, next) { if (s === "msw" || s.startsWith("msw/")) throw Object.assign(new Error("Cannot find package " + s), { code: "ERR_MODULE_NOT_FOUND" }); return next(s, c) }'))
`,
      )
      const path = join(dir, file)
      writeFileSync(
        path,
        `${head}
  const server = createAuthServer()
  const { url, close } = await server.listen()
  const login = await fetch(url + '/bearer/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'diku_admin', password: 'admin' }) })
  const handlers = await server.handlers().then(() => 'loaded', e => e.message)
  console.log(JSON.stringify({ login: login.status, logins: server.stats.logins, handlers }))
  await close()
  ${tail}
`,
      )
      const { stdout } = await run(process.execPath, ['--require', hide, path], { cwd: ROOT })
      expect(JSON.parse(stdout.trim())).toEqual({ login: 201, logins: 1, handlers: expect.stringMatching(/needs the optional peer msw/) })
    },
    30_000,
  )
})

describe('the built rotor-auth/folio and rotor-auth/react entries', () => {
  // Runs after the build above (same file, sequential); its own scratch dir (the one above is gone).
  const scratch = mkdtempSync(join(tmpdir(), 'rotor-dist-entries-'))
  afterAll(() => rmSync(scratch, { recursive: true, force: true }))
  test.each([
    [
      'CommonJS',
      'folio.cjs',
      `const folio = require(${JSON.stringify(join(ROOT, 'dist/folio/index.cjs'))})
  const main = require(${JSON.stringify(join(ROOT, 'dist/index.cjs'))})`,
    ],
    [
      'ESM',
      'folio.mjs',
      `const folio = await import(${JSON.stringify(join(ROOT, 'dist/folio/index.js'))})
  const main = await import(${JSON.stringify(join(ROOT, 'dist/index.js'))})`,
    ],
  ])(
    '%s: folio loads the package itself (one copy of the session), and works',
    async (_name, file, load) => {
      const path = join(scratch, file)
      writeFileSync(
        path,
        `${load}
  const options = folio.fromStripesConfig({ okapi: { url: 'https://okapi.example.org', tenant: 'diku' }, config: { rtr: { idleSessionTTL: '2h' } } })
  const session = folio.createFolioSession({ okapiUrl: 'https://okapi.example.org', tenant: 'diku', overrides: { crossTab: false } })
  console.log(JSON.stringify({ idle: options.idle.timeout, status: session.state.status, main: typeof main.createSession }))
  session.dispose()\n`,
      )
      const { stdout } = await run(process.execPath, [path], { cwd: ROOT })
      expect(JSON.parse(stdout.trim())).toEqual({ idle: 7_200_000, status: 'signed-out', main: 'function' })
      for (const built of ['dist/folio/index.js', 'dist/folio/index.cjs']) {
        const text = readFileSync(join(ROOT, built), 'utf8')
        // The session's own code (its state machine) is not bundled into the entry again.
        expect(text).not.toContain('SessionMachine')
        expect(text).toContain('rotor-auth')
      }
    },
    30_000,
  )

  test('react is imported, never bundled', () => {
    for (const built of ['dist/react/index.js', 'dist/react/index.cjs']) {
      const text = readFileSync(join(ROOT, built), 'utf8')
      expect(text).toMatch(/from "react"|require\("react"\)/)
      expect(text).not.toContain('__CLIENT_INTERNALS')
      expect(text).not.toContain('SessionMachine')
    }
  })
})
