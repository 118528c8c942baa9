/**
 * The Redis test files' shared ground: one redis-server per file, and clients and coordinator
 * members on it (each member on a client of its own, as separate processes would be), closed
 * after each test.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { createRedisCoordinator, type RedisCoordinator } from '../../src/redis/index.js'
import { sleep } from '../helpers/index.js'
import { drop, type ClientFactory, type TestClient as Client } from './clients.js'
import { startRedis, type RedisServer } from './server.js'

/** Polls an asynchronous condition (waitFor takes synchronous ones). */
export async function until(condition: () => Promise<boolean>, timeout = 5_000): Promise<void> {
  const deadline = performance.now() + timeout
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`until: still false after ${timeout} ms: ${condition.toString()}`)
    await sleep(20)
  }
}

/** Registers the hooks (call it inside a describe) and returns what the tests use. */
export function redisMembers(factory: ClientFactory) {
  const newClient = (url: string) => factory.create(url, { reconnectStrategy: () => 50 })
  let server: RedisServer | undefined
  const clients: Client[] = []
  const members: RedisCoordinator[] = []
  /** The deployment key the members share. */
  const key = randomBytes(32)

  async function connect(): Promise<Client> {
    const client = newClient(server!.url)
    client.on('error', () => undefined)
    await client.connect()
    clients.push(client)
    return client
  }

  async function member(name: string, options: { lease?: number; tokens?: 'omit' } = {}): Promise<RedisCoordinator> {
    const client = await connect()
    const coordinator = createRedisCoordinator({
      client,
      name,
      ...(options.tokens ? { tokens: options.tokens } : { key }),
      ...(options.lease ? { lease: options.lease } : {}),
    })
    members.push(coordinator)
    return coordinator
  }

  /**
   * Waits until `waiting` are subscribed to the name's channel: Redis counts the subscriptions,
   * and each member's read waits until its client has seen its own.
   */
  async function subscribed(name: string, ...waiting: RedisCoordinator[]): Promise<void> {
    const probe = await connect()
    const count = async () => Number(((await probe.sendCommand(['PUBSUB', 'NUMSUB', `rotor:{${name}}:bus`])) as unknown[])[1])
    await until(async () => (await count()) >= waiting.length)
    await Promise.all(waiting.map(m => m.read()))
  }

  beforeAll(async () => {
    server = await startRedis()
  })
  afterEach(() => {
    for (const m of members.splice(0)) m.close()
  })
  afterAll(async () => {
    for (const c of clients.splice(0)) drop(c)
    await server?.stop()
  })

  return {
    key,
    connect,
    member,
    subscribed,
    /** Members closed after the test (push one made by hand). */
    members,
    /** The redis-server of this file (kill, start, restart). */
    get redis(): RedisServer {
      return server!
    },
  }
}
