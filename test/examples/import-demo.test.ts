import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, test } from 'vitest'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { runMode, type Mode, type RunResult } from '../../examples/import-job.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

// AT 1 s; 12 batches of ~120 ms: the job outlives the AT by about half a second.
const JOB = { records: 60, batch: 5, processingMs: [100, 140] as const }

describe('import job (examples/import-job.ts)', () => {
  let closeServer: (() => Promise<void>) | undefined
  afterEach(async () => {
    await closeServer?.()
    closeServer = undefined
  })

  async function run(mode: Mode): Promise<{ result: RunResult; server: AuthServer }> {
    const server = createAuthServer({ accessTokenTtl: 1_000, refreshTokenTtl: 60_000 })
    const { url, close } = await server.listen()
    closeServer = close
    const progress: number[] = []
    const result = await runMode(mode, { server, url, ...JOB, onProgress: p => progress.push(p.done) })
    expect(progress).toHaveLength(Math.ceil(JOB.records / JOB.batch))
    expect(progress.at(-1)).toBe(JOB.records)
    return { result, server }
  }

  test('plain fetch loses the records that start after the access token expired', async () => {
    const { result, server } = await run('plain')
    expect(result.imported + result.failed).toBe(JOB.records)
    expect(result.imported).toBeGreaterThan(0)
    expect(result.failed).toBeGreaterThan(0)
    expect(result.statuses['401']).toBeGreaterThan(0)
    expect(result.api401).toBeGreaterThan(0)
    expect(result.api401).toBe(server.stats.api401)
    expect(result.refreshCalls).toBe(0)
    expect(result.firstFailureMs).not.toBeNull()
  })

  test.each(['request', 'timer'] as const)('Rotor, %s mode, imports every record without a 401', async mode => {
    const { result, server } = await run(mode)
    expect(result.imported).toBe(JOB.records)
    expect(result.failed).toBe(0)
    expect(result.statuses).toEqual({ '200': Math.ceil(JOB.records / JOB.batch) })
    expect(result.api401).toBe(0)
    expect(result.reusedRefused).toBe(0)
    expect(result.refreshCalls).toBeGreaterThanOrEqual(1)
    expect(server.stats.refreshRefused).toBe(0)
  })
})

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'examples/import-demo.ts', ...args],
      { cwd: ROOT, timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

describe('import demo CLI (examples/import-demo.ts)', () => {
  test('runs the three imports and prints the table', async () => {
    const { code, stdout, stderr } = await cli(['--records', '40', '--at', '1', '--no-progress'])
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toMatch(/run\s+records imported\s+records failed\s+refresh calls\s+401s served\s+reused RTs refused\s+duration/)
    expect(stdout).toContain('plain fetch')
    expect(stdout).toContain('Rotor, request mode')
    expect(stdout).toContain('Rotor, timer mode')
  }, 25_000)

  test('rejects a bad flag, naming it', async () => {
    const { code, stdout, stderr } = await cli(['--records', 'lots'])
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toContain('--records')
  })
})
