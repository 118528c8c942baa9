// A bearer tab that opens after login holds its first request only until a peer's answer to its hello arrives: no window, no lock, no refresh on the way.
import { describe, expect, it } from 'vitest'
import { createSession } from '../../../src/index.js'
import { createMemoryCoordinator } from '../../../src/testing/index.js'
import { settle, virtualTime } from './virtual.js'

/** Two real sessions on virtual time sharing a bus whose messages take `delay` ms each way; `sent`: when each API call reached fetch, with its AT. */
function tabs(delay: number) {
  const time = virtualTime()
  const shared = createMemoryCoordinator({ sharesTokens: 'message', delay, after: time.after })
  const sent: Array<{ at: number; authorization: string | null }> = []
  let refreshes = 0
  const options = {
    scope: 'http://api.test/',
    transport: 'bearer' as const,
    rotation: 'request' as const,
    platform: { now: time.now, after: time.after, monotonic: time.monotonic },
    refresh: async () => ({ accessToken: `at-${++refreshes}`, refreshToken: `rt-${refreshes}`, expiresIn: 600 }),
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      sent.push({ at: time.now(), authorization: new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).get('authorization') })
      return new Response('ok')
    },
  }
  // As in a browser: the store keeps the generation and expiries, never bearer tokens (they travel by message).
  const member = () => {
    const coordinator = shared.join()
    const write = coordinator.write.bind(coordinator)
    coordinator.write = ({ accessToken: _a, refreshToken: _r, ...kept }) => write(kept)
    return coordinator
  }
  const open = () => createSession({ ...options, coordinator: member() })
  return { time, open, sent, refreshes: () => refreshes }
}

describe("a joining bearer tab's first request", () => {
  it('goes when the first peer answers (2 ms: one hop each way), not after the join window', async () => {
    const { time, open, sent, refreshes } = tabs(1)
    const peer = open()
    await peer.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 600 })
    await time.advance(10) // the login's state reached every member
    const opened = time.now()
    const joiner = open()
    const first = joiner.fetch('http://api.test/ping')
    await settle()
    expect(sent).toEqual([]) // no tokens yet: held for the peer's answer
    await time.advance(1) // the hello reached the peer, which answers
    expect(sent).toEqual([])
    await time.advance(1) // its answer arrived
    expect(sent).toEqual([{ at: opened + 2, authorization: 'Bearer at-0' }])
    expect((await first).status).toBe(200)
    expect(refreshes()).toBe(0)
    peer.dispose()
    joiner.dispose()
  })
})
