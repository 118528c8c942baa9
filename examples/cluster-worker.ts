/**
 * One worker process of examples/cluster-import.ts: imports its share of the records with a
 * bearer session that either shares the user's token pair through Redis (`redis`) or was
 * handed the pair and refreshes on its own (`plain`). Says `ready`, waits for `go` on stdin,
 * imports, prints its result as one JSON line.
 */
import { createInterface } from 'node:readline'
import { createClient } from 'redis'
import { createSession } from '../src/index.js'
import { createRedisCoordinator } from '../src/redis/index.js'
import { runImport } from './import-job.js'

type Config = { auth: string; records: number; batch: number; seed: number; redis?: string; name?: string; key?: string; grant?: unknown }
const config = JSON.parse(process.argv[2]!) as Config

const client = config.redis
  ? await createClient({ url: config.redis })
      .on('error', () => undefined)
      .connect()
  : undefined
const session = createSession({
  scope: `${config.auth}/api`,
  transport: 'bearer',
  rotation: 'request',
  refresh: { url: `${config.auth}/bearer/refresh`, style: 'json' },
  logout: false,
  // Shared: every worker's session is a member of one name, like tabs of one browser.
  // Plain: each worker holds the pair by itself (what a job without a coordinator does).
  ...(client ? { coordinator: createRedisCoordinator({ client, name: config.name!, key: config.key! }) } : { crossTab: false }),
})
if (config.grant) await session.start(config.grant as never)
console.log(JSON.stringify({ ready: true }))
const lines = createInterface({ input: process.stdin })
await new Promise(resolve => lines.once('line', resolve))

const result = await runImport({ fetch: session.fetch, url: config.auth, records: config.records, batch: config.batch, seed: config.seed })
console.log(JSON.stringify({ result }))
lines.close()
session.dispose()
client?.destroy()
