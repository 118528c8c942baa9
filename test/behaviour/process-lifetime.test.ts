/** A Node process lives while a request waits for a refresh, and an idle session does not hold it open. */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, onTestFinished } from 'vitest'
import { startEnv } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const RT = 3_600_000
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url))
const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: RT }, 'real')

describe('a Node job whose refresh answers 503', () => {
  function runJob(script: string, args: string[]): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', `${FIXTURES}${script}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', chunk => (out += chunk))
      child.stderr.on('data', chunk => (out += chunk))
      child.on('error', reject)
      child.on('exit', code => resolve({ code, out }))
    })
  }

  // Before: the session waited on unref'd timers only; Node saw nothing left to do and exited
  // with code 0 before the import's last batch was sent: silent data loss.
  test('a request waiting for a refresh keeps the process alive until it settles (the batch goes out)', async () => {
    const lifetime = 1500
    const env = await startEnv({ accessTokenTtl: lifetime, refreshTokenTtl: RT })
    onTestFinished(() => env.close())
    env.server.fault('refresh', { status: 503, times: 3 })
    const { code, out } = await runJob('node-job-503.ts', [env.url, String(lifetime)])
    expect(out).toContain('batch sent: 200')
    expect(code).toBe(0)
    expect(env.server.stats).toMatchObject({ refreshCalls: 4, refreshGranted: 1, api200: 1 })
  }, 30_000)

  test('an idle session does not keep the process alive', async ({ env }) => {
    const { code, out } = await runJob('node-idle-session.ts', [env.url])
    expect(out).toContain('started')
    expect(code).toBe(0)
  }, 30_000)
})
