/**
 * A coordinator's lock may call its function with something that is not a Lease: Web Locks call
 * theirs with a `Lock` ({ name, mode }), and an app's own coordinator built on
 * `navigator.locks.request(name, fn)` passes it on. Only a Lease (a `held()` function) counts.
 */
import { afterEach, expect, test } from 'vitest'
import { createLocalCoordinator } from '../../src/coordinator/local.js'
import { createPlatform } from '../../src/platform/defaults.js'
import type { Coordinator } from '../../src/types.js'
import { Mutex } from '../../src/coordinator/realm.js'
import { record, startEnv, type Env } from '../helpers/index.js'

let env: Env | undefined
afterEach(async () => env?.close())

test("a lock that hands its function a Web Locks' Lock: the rotation goes, no rotate-error", async () => {
  env = await startEnv()
  const local = createLocalCoordinator({ name: undefined, storage: undefined, storageKey: 'lock-argument', persistTokens: true, platform: createPlatform() })
  const lockInfo = { name: 'rotor-auth:x:rotate', mode: 'exclusive' }
  const coordinator: Coordinator = { ...local, lock: (fn, options) => local.lock(() => (fn as (lock: unknown) => Promise<never>)(lockInfo), options) }
  const session = await env.bearer({ coordinator })
  const log = record(session)
  env.server.resetStats()
  await session.rotate()
  expect(log.of('rotate-error')).toEqual([])
  expect(env.server.stats.refreshGranted).toBe(1)
})

test("the realm's mutex calls each holder with nothing, never the previous holder's result", async () => {
  const mutex = new Mutex()
  const seen: unknown[] = []
  await mutex.run(async () => ({ held: 'not a lease' }))
  await mutex.run(async (...args: unknown[]) => void seen.push(args.length))
  expect(seen).toEqual([0])
})
