/**
 * Issue 25 item 3: a fetch that leads back to the session never loops. Each case runs in a
 * child process killed after a bound: before the fix the loop ran on microtasks at 100 % CPU,
 * so no timer in this process could have stopped it.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { startEnv, type Env } from '../helpers/session-env.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/fetch-loop.ts', import.meta.url))
/** Far above a healthy run (well under a second); a looping child is killed here. */
const BOUND_MS = 15_000

function run(url: string, shape: string): Promise<{ killed: boolean; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, url, shape], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let killed = false
    const timer = setTimeout(() => {
      killed = true
      child.kill('SIGKILL')
    }, BOUND_MS)
    child.stdout.on('data', chunk => (out += chunk))
    child.stderr.on('data', chunk => (out += chunk))
    child.on('error', reject)
    child.on('exit', () => {
      clearTimeout(timer)
      resolve({ killed, out })
    })
  })
}

const lastJson = (out: string) =>
  JSON.parse(
    out
      .trim()
      .split('\n')
      .filter(line => line.startsWith('{'))
      .at(-1) ?? 'null',
  )

describe('a fetch that leads back to the session', () => {
  let env: Env
  beforeEach(async () => {
    env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 120_000 })
  })
  afterEach(() => env.close())

  test("the README's FOLIO pattern (fetch: cookieFetch(), then install()) reaches the server", async () => {
    const { killed, out } = await run(env.url, 'cookie-jar')
    expect(killed, `the child looped until killed:\n${out}`).toBe(false)
    expect(lastJson(out), out).toMatchObject({ status: 200 })
    // The API request reached the server, with the jar's cookie (a 200, not a 401).
    expect(env.server.stats).toMatchObject({ logins: 1, api200: 1, api401: 0 })
  }, 30_000)

  test.each([
    ['fetch: (...a) => fetch(...a)', 'arrow'],
    ['a fetch option that reaches the global fetch after an await', 'async-arrow'],
  ])(
    '%s after install() rejects at once with ERR_FETCH_LOOP naming the fix',
    async (_name, shape) => {
      const { killed, out } = await run(env.url, shape)
      expect(killed, `the child looped until killed:\n${out}`).toBe(false)
      const result = lastJson(out)
      expect(result, out).toMatchObject({ rotor: true, code: 'ERR_FETCH_LOOP' })
      expect(result.message).toMatch(/loop/)
      expect(result.message).toMatch(/install\(\)/)
      expect(result.ms).toBeLessThan(BOUND_MS)
      // Nothing reached the API: the loop was cut before the network.
      expect(env.server.stats.api200 + env.server.stats.api401).toBe(0)
    },
    30_000,
  )
})
