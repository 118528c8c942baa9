// @vitest-environment happy-dom
/** rotor-auth/devtools in a DOM (happy-dom), on a fake session and platform: side-effect-free import, the custom element, lanes from other panels checked, text only, unmount. */
import { describe, expect, it } from 'vitest'
import { defineDevtoolsElement, mountDevtools, type DevtoolsElement } from '../../src/devtools/index.js'
import type { Session } from '../../src/types.js'

type Listener = (payload: unknown) => void

function fakeSession(tab = 'self-tab') {
  const listeners = new Map<string, Set<Listener>>()
  const session = {
    trace: () => ({ rotor: 'trace', version: 1, at: 0, session: 'rotor-auth:app', tabs: [tab], entries: [{ at: 1, tab, seq: 0, kind: 'election-won' }] }),
    on: (type: string, l: Listener) => (listeners.set(type, (listeners.get(type) ?? new Set()).add(l)), () => void listeners.get(type)!.delete(l)),
    state: { status: 'active', generation: 3, accessExpiresAt: 60_000, refreshExpiresAt: 300_000, rotating: false },
    warnings: { idle: null, ending: null },
  }
  return {
    session: session as unknown as Session,
    emit: (type: string, payload: unknown) => listeners.get(type)?.forEach(l => l(payload)),
    listening: () => [...listeners.values()].reduce((n, s) => n + s.size, 0),
  }
}

/** A channel the test speaks on, and timers that never fire unless told. */
function fakePlatform() {
  const channels: Array<{
    postMessage(m: unknown): void
    onmessage: ((e: { data: unknown }) => void) | null
    onmessageerror: null
    close(): void
    posted: unknown[]
    closed: boolean
  }> = []
  return {
    channels,
    platform: {
      now: () => 10_000,
      after: () => ({ cancel: () => undefined }),
      channel: () => {
        const c = {
          posted: [] as unknown[],
          closed: false,
          onmessage: null,
          onmessageerror: null,
          postMessage(m: unknown) {
            c.posted.push(m)
          },
          close() {
            c.closed = true
          },
        }
        channels.push(c)
        return c
      },
    },
  }
}

describe('rotor-auth/devtools', () => {
  it('importing it defines no element; defineDevtoolsElement defines <rotor-devtools> once, and it mounts while connected with a session', () => {
    expect(customElements.get('rotor-devtools')).toBeUndefined()
    defineDevtoolsElement()
    defineDevtoolsElement()
    const element = document.createElement('rotor-devtools') as DevtoolsElement
    element.session = fakeSession().session
    expect(element.querySelector('.rotor-devtools')).toBeNull()
    document.body.append(element)
    expect(element.querySelectorAll('.rotor-devtools-lane')).toHaveLength(1)
    element.remove()
    expect(element.querySelector('.rotor-devtools')).toBeNull()
  })

  it("draws its own decisions and events, other panels' lanes (checked, text only), and unmounts cleanly", () => {
    const { session, emit, listening } = fakeSession()
    const { platform, channels } = fakePlatform()
    const host = document.createElement('div')
    const unmount = mountDevtools(session, host, { platform })
    expect(channels[0]!.posted).toEqual([expect.objectContaining({ rotorDevtools: 1, tab: 'self-tab', hello: true })])
    emit('rotate', { state: { generation: 4 }, origin: 'local' })
    emit('trace', { at: 2, tab: 'self-tab', seq: 1, kind: 'request-parked', method: 'GET', url: 'https://api/x' })
    const lane = host.querySelector('.rotor-devtools-lane[data-self]')!
    expect(lane.querySelector('li[data-kind="event:rotate"]')!.textContent).toContain('rotate generation=4 origin=local')
    expect(lane.querySelector('.rotor-devtools-waiting')!.textContent).toBe('1 waiting')
    expect(host.querySelector('.rotor-devtools-summary')!.textContent).toContain('generation 3')
    // A burst's rest is one entry with its count, as it parks and as it goes.
    emit('trace', { at: 2, tab: 'self-tab', seq: 2, kind: 'request-parked', count: 30 })
    expect(lane.querySelector('.rotor-devtools-waiting')!.textContent).toBe('31 waiting')
    expect([...lane.querySelectorAll('li[data-kind="request-parked"]')].map(li => li.textContent)).toContainEqual(expect.stringContaining('count=30'))
    emit('trace', { at: 3, tab: 'self-tab', seq: 3, kind: 'request-released', count: 30 })
    emit('trace', { at: 3, tab: 'self-tab', seq: 4, kind: 'request-released', method: 'GET', url: 'https://api/x', waitedMs: 1 })
    expect(lane.querySelector('.rotor-devtools-waiting')!.textContent).not.toMatch(/[1-9] waiting/)

    channels[0]!.onmessage!({
      data: {
        rotorDevtools: 1,
        tab: 'other',
        hello: true,
        entries: [
          { at: 3, tab: 'other', seq: 0, kind: '<img src=x onerror=alert(1)>' },
          { at: 4, tab: 'other', seq: 1, kind: 'lock-granted', nested: { no: 1 } },
          { at: 5, tab: 'self-tab', seq: 9, kind: 'logout' },
        ],
      },
    })
    const other = host.querySelector('.rotor-devtools-lane[data-tab="other"]')!
    expect(other.querySelectorAll('li')).toHaveLength(1)
    expect(host.querySelector('img')).toBeNull()
    expect(lane.querySelector('li[data-kind="logout"]')).toBeNull()
    // It answered the hello with its own lane.
    expect(channels[0]!.posted.at(-1)).toMatchObject({
      rotorDevtools: 1,
      tab: 'self-tab',
      entries: expect.arrayContaining([expect.objectContaining({ kind: 'election-won' })]),
    })

    unmount()
    expect(host.children).toHaveLength(0)
    expect(listening()).toBe(0)
    expect(channels[0]!.closed).toBe(true)
  })
})
