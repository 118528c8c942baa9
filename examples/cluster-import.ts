/**
 * The demo's import (FOLIO's data import that failed once the AT expired) split across N
 * worker processes acting for one user, twice: each worker refreshing on its own from the
 * same pair ("plain", what a job without a coordinator does), and the workers sharing the
 * pair through Redis (rotor-auth/redis). Prints what the reference server counted.
 *
 *   npx tsx examples/cluster-import.ts [--workers 4] [--records 400] [--at 1]
 *
 * Uses REDIS_URL when set; otherwise starts redis-server (REDIS_SERVER_PATH or
 * /usr/bin/redis-server) on a free port and stops it at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createClient } from 'redis'
import { createSession } from '../src/index.js'
import { createRedisCoordinator } from '../src/redis/index.js'
import { createAuthServer } from '../src/testing/index.js'
import type { ImportResult } from './import-job.js'

const WORKER = fileURLToPath(new URL('./cluster-worker.ts', import.meta.url))
const { values } = parseArgs({ options: { workers: { type: 'string', default: '4' }, records: { type: 'string', default: '400' }, at: { type: 'string', default: '1' } } })
const workers = Number(values.workers)
const records = Number(values.records)
const at = Number(values.at)
if (!Number.isInteger(workers) || workers < 1 || !Number.isInteger(records) || records < workers || !(at > 0)) {
  console.error('usage: npx tsx examples/cluster-import.ts [--workers N>=1] [--records N>=workers] [--at SECONDS>0]')
  process.exit(2)
}

/** A redis-server of our own when REDIS_URL is not given. */
async function redisServer(): Promise<{ url: string; stop(): void }> {
  if (process.env['REDIS_URL']) return { url: process.env['REDIS_URL'], stop: () => undefined }
  const port = await new Promise<number>(resolve => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
  const child = spawn(process.env['REDIS_SERVER_PATH'] ?? '/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  })
  const url = `redis://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try {
      const probe = await createClient({ url, socket: { reconnectStrategy: false } })
        .on('error', () => undefined)
        .connect()
      probe.destroy()
      break
    } catch (error) {
      if (i > 100) throw error
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  return { url, stop: () => void child.kill('SIGKILL') }
}

async function run(mode: 'plain' | 'redis', redisUrl: string) {
  const server = createAuthServer({ accessTokenTtl: at * 1000, refreshTokenTtl: 3_600_000 })
  const { url, close } = await server.listen()
  const login = await fetch(`${url}/bearer/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
  })
  const grant = await login.json()
  const shared = { name: `import:${randomUUID()}`, key: randomBytes(32).toString('base64') }
  if (mode === 'redis') {
    // The first process logs in; the pair goes to Redis, sealed, and the workers join from there.
    const client = await createClient({ url: redisUrl })
      .on('error', () => undefined)
      .connect()
    const session = createSession({ scope: `${url}/api`, transport: 'bearer', coordinator: createRedisCoordinator({ client, ...shared }) })
    await session.start(grant)
    session.dispose()
    client.destroy()
  }
  const share = Math.floor(records / workers)
  const children: ChildProcess[] = []
  const results: Array<Promise<ImportResult | undefined>> = []
  const ready: Array<Promise<void>> = []
  for (let i = 0; i < workers; i++) {
    const config = {
      auth: url,
      records: i === workers - 1 ? records - share * (workers - 1) : share,
      batch: 10,
      seed: i + 1,
      ...(mode === 'redis' ? { redis: redisUrl, ...shared } : { grant }),
    }
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] })
    children.push(child)
    const lines = createInterface({ input: child.stdout! })
    ready.push(new Promise(resolve => lines.on('line', line => line.includes('"ready"') && resolve())))
    results.push(
      new Promise(resolve => {
        lines.on('line', line => line.includes('"result"') && resolve((JSON.parse(line) as { result: ImportResult }).result))
        child.once('exit', () => resolve(undefined))
      }),
    )
  }
  await Promise.all(ready)
  for (const child of children) child.stdin!.write('go\n')
  const done = await Promise.all(results)
  await close()
  const imported = done.reduce((n, r) => n + (r?.imported ?? 0), 0)
  const { refreshCalls, refreshGranted, reusedRefused, api401 } = server.stats
  return { mode, imported, lost: records - imported, refreshCalls, refreshGranted, reusedRefused, api401 }
}

const redis = await redisServer()
try {
  console.log(`${records} records, ${workers} worker processes, AT ${at} s; each batch takes 150–250 ms to prepare\n`)
  const rows = [await run('plain', redis.url), await run('redis', redis.url)]
  const header = ['', 'records imported', 'lost', 'refresh calls', 'granted', 'reused RTs', 'API 401s']
  const table = [
    header,
    ...rows.map(r =>
      [r.mode === 'plain' ? 'plain (each worker refreshes)' : 'rotor-auth/redis', r.imported, r.lost, r.refreshCalls, r.refreshGranted, r.reusedRefused, r.api401].map(String),
    ),
  ]
  const widths = header.map((_, i) => Math.max(...table.map(row => row[i]!.length)))
  for (const row of table) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
  const [plain, shared] = rows as [(typeof rows)[number], (typeof rows)[number]]
  console.log(
    `\nPlain: each worker presented the pair's RT on its own; the server refused ${plain.reusedRefused} as reused, revoked the family, and ${plain.lost} records were lost.` +
      `\nShared through Redis: ${shared.refreshCalls} refreshes for ${workers} processes, ${shared.reusedRefused} reused, ${shared.lost} lost.`,
  )
  if (shared.lost > 0 || shared.reusedRefused > 0) process.exitCode = 1
} finally {
  redis.stop()
}
