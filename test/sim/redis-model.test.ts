/**
 * The simulator's Redis model against a real redis-server: the same seeded sequences of the
 * coordinator's scripts (acquire, hold, release, write, epoch, with varied arguments, keys
 * expiring, a restart that forgets everything) run on both, and every reply and every key
 * (value and time to live) must agree.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createClient } from 'redis'
import { ACQUIRE, EPOCH, HOLD, keysOf, RELEASE, RELEASED, WRITE, type RedisKeys } from '../../src/redis/scripts.js'
import { HAVE_REDIS, startRedis, type RedisServer } from '../redis/server.js'
import { Random } from './random.js'
import { RedisKeySpace } from './redis-model.js'

/**
 * Expiry is compared on both clocks at once: a short lease outlives a round (its commands take a
 * few ms) and is gone after the pause between rounds; a long one outlives the test. The model's
 * clock is the real time elapsed, read just before each command goes to Redis, so a round slowed
 * by a loaded machine moves both clocks alike; Redis runs the command a little later, so its time
 * to live may read that much lower (TTL_SLACK_MS, generous).
 */
const SHORT = 2_500
const LONG = 600_000
const PAUSE_MS = 2_800
const TTL_SLACK_MS = 2_000
/**
 * The two clocks are read a command apart, each to the millisecond: a time to live may read this
 * much higher in Redis, plus the longest a command took to reach Redis and come back so far (the
 * command that set the key ran in Redis up to that much after the model's clock was read: 47 ms
 * once, on a loaded CI machine).
 */
const CLOCK_SKEW_MS = 5
const ROUNDS = 4
const NAMES = 16

type Command = { label: string; script: string; keys: string[]; args: string[] }

/** One name's generator: draws commands from the seed, with arguments that are sometimes right and sometimes stale. */
class Sequence {
  readonly keys: RedisKeys
  readonly #random: Random
  readonly #model: RedisKeySpace
  /** Lock values granted (`owner:fence`) and epochs answered so far. */
  readonly #values: string[] = ['stranger:1:1']
  readonly #epochs: string[] = ['']
  #n = 0

  constructor(name: string, seed: number, model: RedisKeySpace) {
    this.keys = keysOf(name)
    this.#random = new Random(seed)
    this.#model = model
  }

  /** Learns from a reply what later commands may present. */
  learn(command: Command, reply: unknown): void {
    if (command.script === ACQUIRE) {
      const [fence, , epoch] = reply as [number, number, string]
      if (fence > 0) this.#values.push(`${command.args[0]}:${fence}`)
      this.#epochs.push(epoch)
    }
    if (command.script === EPOCH) this.#epochs.push(reply as string)
  }

  next(): Command {
    const r = this.#random
    const k = this.keys
    const lease = String(r.chance(0.5) ? SHORT : LONG)
    const known = this.#pick(this.#epochs.concat(['stale-epoch']))
    const fresh = `epoch-${++this.#n}`
    const value = this.#pick(this.#values)
    const fence = value.slice(value.lastIndexOf(':') + 1)
    switch (
      r.weighted([
        [4, 'acquire'],
        [3, 'hold'],
        [2, 'release'],
        [3, 'write'],
        [1, 'epoch'],
      ] as const)
    ) {
      case 'acquire':
        return { label: 'acquire', script: ACQUIRE, keys: [k.lock, k.fence, k.epoch, k.quiet], args: [`p${r.int(1, 3)}:${r.int(1, 3)}`, lease, known, fresh] }
      case 'hold':
        return { label: 'hold', script: HOLD, keys: [k.lock, k.fence, k.state, k.epoch], args: [value, lease, fence, known] }
      case 'release':
        return { label: 'release', script: RELEASE, keys: [k.lock, k.channel], args: [value, RELEASED] }
      case 'write': {
        const read = r.chance(0.7) ? (this.#model.get(k.state) ?? '') : 'stale-state'
        const token = r.weighted([
          [2, '0'],
          [2, fence],
          [1, String(r.int(0, 9))],
        ] as const)
        return { label: 'write', script: WRITE, keys: [k.state, k.channel, k.fence, k.epoch], args: [read, `state-${++this.#n}`, 'message', lease, token] }
      }
      case 'epoch':
        return { label: 'epoch', script: EPOCH, keys: [k.epoch, k.quiet], args: [known, fresh, lease] }
    }
  }

  #pick<T>(list: readonly T[]): T {
    return list[this.#random.int(0, list.length - 1)]!
  }
}

/** Replies with their time-valued parts (ACQUIRE's wait) split out, to compare those within the slack. */
function split(command: Command, reply: unknown): { exact: unknown; ms?: number } {
  if (command.script !== ACQUIRE || !Array.isArray(reply)) return { exact: reply }
  const [fence, wait, epoch] = reply as [number, number, string]
  return wait > 0 ? { exact: [fence, 'ms', epoch], ms: wait } : { exact: reply }
}

describe.skipIf(!HAVE_REDIS)('the Redis model answers as redis-server does', () => {
  let server: RedisServer
  let client: ReturnType<typeof createClient>
  beforeAll(async () => {
    server = await startRedis()
    client = createClient({ url: server.url })
    client.on('error', () => undefined)
    await client.connect()
  })
  afterAll(async () => {
    client?.destroy()
    await server?.stop()
  })

  test.each([1, 2])('seed %i: every reply and every key agree, round after round', { timeout: 60_000 }, async seed => {
    let now = 0
    const started = performance.now()
    /** The model's clock catches up with the real time elapsed. */
    const tick = () => void (now = Math.floor(performance.now() - started))
    const model = new RedisKeySpace(() => now)
    const sequences = Array.from({ length: NAMES }, (_, i) => new Sequence(`diff-${seed}-${i}`, seed * 1000 + i, model))
    const random = new Random(seed)
    let compared = 0
    /** The longest round trip of a command so far, ms (see CLOCK_SKEW_MS). */
    let slowest = 0
    for (let round = 0; round < ROUNDS; round++) {
      // A restart without persistence, once in a while: every key gone, and the epoch answers the quiet period.
      if (round > 0 && random.chance(0.3)) {
        await client.flushAll()
        model.flush()
      }
      for (const sequence of sequences) {
        for (let i = random.int(3, 8); i > 0; i--) {
          const command = sequence.next()
          tick()
          const sent = performance.now()
          const real = await client.eval(command.script, { keys: command.keys, arguments: command.args })
          slowest = Math.max(slowest, Math.ceil(performance.now() - sent))
          const modelled = model.eval(command.script, command.keys, command.args)
          const [a, b] = [split(command, real), split(command, modelled)]
          expect(b.exact, `round ${round} ${command.label} ${JSON.stringify(command.args)}`).toEqual(a.exact)
          if (a.ms !== undefined) expect(b.ms! - a.ms).toBeGreaterThanOrEqual(-(CLOCK_SKEW_MS + slowest))
          if (a.ms !== undefined) expect(b.ms! - a.ms).toBeLessThanOrEqual(TTL_SLACK_MS)
          sequence.learn(command, real)
          compared++
        }
      }
      // Every key of every name: the same set, values and times to live.
      const names = sequences.flatMap(s => [s.keys.state, s.keys.lock, s.keys.fence, s.keys.epoch, s.keys.quiet])
      for (const key of names) {
        tick()
        expect(model.get(key), `round ${round} ${key}`).toEqual(await client.get(key))
        const [real, modelled] = [await client.pTTL(key), model.pttl(key)]
        if (real < 0) expect(modelled, `round ${round} pttl ${key}`).toBe(real)
        else expect(modelled - real, `round ${round} pttl ${key}`).toBeGreaterThanOrEqual(-(CLOCK_SKEW_MS + slowest))
        if (real >= 0) expect(modelled - real, `round ${round} pttl ${key}`).toBeLessThanOrEqual(TTL_SLACK_MS)
      }
      await new Promise(resolve => setTimeout(resolve, PAUSE_MS))
    }
    expect(compared).toBeGreaterThan(ROUNDS * NAMES * 3)
  })
})
