/** Disposing the last session of a crossTab name frees that name's shared entry. */
import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { createSession } from '../../src/index.js'
import { realmCount } from '../../src/coordinator/realm.js'
import { bearerOptions } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

describe('nothing left behind per session name', () => {
  // Before: disposing the last session of a name left its shared entry (~250–290 B each).
  test('100 names opened and disposed: no realm entry left', async ({ env }) => {
    const before = realmCount()
    for (let i = 0; i < 100; i++) {
      const name = randomUUID()
      const a = createSession({ ...bearerOptions(env.url), crossTab: { name } })
      const b = createSession({ ...bearerOptions(env.url), crossTab: { name } })
      expect(realmCount()).toBe(before + 1)
      a.dispose()
      b.dispose()
    }
    expect(realmCount()).toBe(before)
  })
})
