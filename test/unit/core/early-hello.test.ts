// A joining bearer tab (tokens only its peers hold) asks them as its session is built, before join(), and only once.
import { describe, expect, it } from 'vitest'
import { SessionMachine } from '../../../src/core/state.js'
import { Sync } from '../../../src/core/sync.js'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { virtualTime } from './virtual.js'

function build(sharesTokens: 'store' | 'message', transport: 'bearer' | 'cookie' = 'bearer') {
  const time = virtualTime()
  const shared = createMemoryCoordinator({ sharesTokens })
  const coordinator = shared.join()
  const machine = new SessionMachine({ now: time.now, leeway: undefined })
  const sync = new Sync({ coordinator, machine, clock: time, now: time.now, transport, shared: true, rotatingTimeout: 91_000 })
  const hellos = () => shared.messages.filter(m => m.type === 'hello').length
  return { sync, hellos }
}

describe('the joining bearer tab asks early', () => {
  it('posts its hello while the session is built, and join() does not ask again', () => {
    const { sync, hellos } = build('message')
    expect(hellos()).toBe(1) // before join(): the peers answer while the rest of createSession runs
    sync.join()
    expect(hellos()).toBe(1)
  })

  it('tokens in the store, or cookies: nothing is asked before join() reads the store', () => {
    for (const [shares, transport] of [
      ['store', 'bearer'],
      ['message', 'cookie'],
    ] as const) {
      const { sync, hellos } = build(shares, transport)
      expect(hellos()).toBe(0)
      sync.join()
      expect(hellos()).toBe(1) // the store is empty: join asks
    }
  })
})
