// A bearer lock holder asks its peers before refreshing, announced rotation or not (sim seed 4517), and a tab refreshing repeats its announcement to a tab that says hello.
import { describe, expect, it } from 'vitest'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, sessionCore, settle, virtualTime } from './virtual.js'

function setup() {
  const time = virtualTime()
  const server = fakeServer(time)
  const shared = createMemoryCoordinator({ sharesTokens: 'message' })
  return { time, server, shared, tab: () => sessionCore(time, server, shared, { probeFirst: true }) }
}

describe('the probe before a bearer refresh', () => {
  it('runs even when no peer announced a rotation: a tab that was frozen or lost the message cannot know (sim seed 4517)', async () => {
    const { time, server, tab } = setup()
    const a = tab()
    const b = tab()
    await a.start()
    await settle()
    expect(b.machine.snapshot.generation).toBe(1)
    const asked = time.now()
    const rotation = b.rotator.rotateFrom(1)
    await settle()
    // The peers are asked first: nothing is presented before the probe's wait ran out.
    expect(server.presented).toEqual([])
    await time.advance(60) // the probe's wait (PROBE_MS in src/core/rotator.ts)
    await rotation
    expect(server.presented).toEqual(['rt-1'])
    expect(time.now()).toBeGreaterThan(asked)
    await settle()
    expect(a.machine.snapshot.generation).toBe(2)
  })

  it('still runs when a peer announced a rotation from the generation held here', async () => {
    const { time, server, shared, tab } = setup()
    const a = tab()
    await a.start()
    await settle()
    // A peer said it was rotating, then that it failed: its tokens may yet be on their way.
    const peer = shared.join()
    peer.post({ type: 'rotating', generation: 1 })
    peer.post({ type: 'rotated', generation: 1, ok: false })
    await settle()
    expect(a.machine.rotatingElsewhere).toBe(false)
    const rotation = a.rotator.rotateFrom(1)
    await settle()
    expect(server.presented).toEqual([])
    await time.advance(60)
    await rotation
    expect(server.presented).toEqual(['rt-1'])
  })

  it('a tab that says hello while a refresh is on the wire hears that rotation with the answer', async () => {
    const { time, server, shared, tab } = setup()
    const a = tab()
    await a.start()
    let answer!: () => void
    server.answerWith(() => new Promise(resolve => (answer = () => resolve(server.grant()))))
    const rotation = a.rotator.rotateFrom(1)
    await time.advance(60) // the probe first (PROBE_MS)
    expect(server.presented).toEqual(['rt-1'])
    // A tab joining now (bearer tokens not in storage) asks, and missed the announcement.
    const late = shared.join()
    const heard: string[] = []
    late.subscribe(message => void heard.push(message.type === 'rotating' ? `rotating ${message.generation}` : message.type))
    late.post({ type: 'hello' })
    await settle()
    expect(heard).toEqual(['state', 'rotating 1'])
    answer()
    await rotation
    await settle()
    // Done: a hello now gets the state alone.
    heard.length = 0
    late.post({ type: 'hello' })
    await settle()
    expect(heard).toEqual(['state'])
  })
})
