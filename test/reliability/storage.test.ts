/**
 * Issue 13, item 7: persistent storage that fails. With `persist: true` the stored pair is
 * what a reload resumes; when a write of a rotation or a logout fails (quota, disabled
 * storage), the stored state is older than the truth. Before: the failure was swallowed, a
 * reload resumed the spent RT (the server refused it as reused and revoked the family), and a
 * logout whose server call also failed came back on reload. Now the stale entry is removed, the
 * session goes on in memory, and a `storage-error` event says so.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { createSession, type Session } from '../../src/index.js'
import { bearerLogin, bearerOptions, memoryStorage, record, startEnv, type Env } from '../helpers/index.js'

/** Storage that works until `fail()`: then every write throws as a full quota does. */
function failingStorage() {
  const storage = memoryStorage()
  let failing = false
  return {
    ...storage,
    setItem(key: string, value: string) {
      if (failing) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
      storage.setItem(key, value)
    },
    fail: () => void (failing = true),
  }
}

let env: Env
beforeEach(async () => {
  env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 })
})
afterEach(async () => {
  await env.close()
})

/** A page of the app: a bearer session persisted to `storage`, as after a reload. */
function page(storage: ReturnType<typeof failingStorage>): Session {
  const session = createSession({
    ...bearerOptions(env.url),
    rotation: 'request',
    crossTab: false,
    storage,
    persist: true,
  })
  env.sessions.push(session)
  return session
}

describe('7. storage that fails', () => {
  test('a rotation that cannot be stored: the spent pair is removed, a reload starts signed out, never presents the spent RT', async () => {
    const storage = failingStorage()
    const first = page(storage)
    const log = record(first)
    await first.start(await bearerLogin(env.url))
    expect(storage.dump()).toContain('refreshToken')
    storage.fail()
    await first.rotate()
    expect(log.of('storage-error')).toMatchObject([{ cleared: true, error: { name: 'QuotaExceededError' } }])
    expect(storage.map.size, 'the stale pair is gone').toBe(0)
    // The live page goes on in memory.
    expect((await first.fetch(`${env.url}/api/live`)).status).toBe(200)
    await first.rotate()
    expect(log.of('storage-error'), 'said once per run of failures').toHaveLength(1)

    // "Reload": a new page on the same storage.
    const reloaded = page(storage)
    expect(reloaded.state.status).toBe('signed-out')
    await reloaded.rotate().catch(() => undefined)
    expect(env.server.stats).toMatchObject({ refreshCalls: 2, refreshGranted: 2, reusedRefused: 0, refreshRefused: 0 })
  })

  test('a logout that cannot be stored (and whose server call failed too) does not come back on reload', async () => {
    const storage = failingStorage()
    const first = page(storage)
    const log = record(first)
    await first.start(await bearerLogin(env.url))
    storage.fail()
    env.server.fault('logout', { status: 503 })
    await first.logout()
    expect(log.of('logout')).toEqual([{ reason: 'user', origin: 'local' }])
    expect(log.of('storage-error')).toHaveLength(1)
    const reloaded = page(storage)
    expect(reloaded.state.status).toBe('signed-out')
    expect(env.server.stats.refreshCalls).toBe(0)
  })
})
