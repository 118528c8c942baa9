/**
 * session.trace({ tabs: true }): the peers module on a fake coordinator (forged answers, caps,
 * virtual time), then two sessions sharing `crossTab: { name }` in one Node process.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Message, OutgoingMessage } from '../../src/types.js'
import { ask, checkEntry, heard } from '../../src/trace/peers.js'
import { TraceRecorder } from '../../src/trace/recorder.js'
import { browserTabs, startEnv, type Env } from '../helpers/index.js'
import { PEERS_HOOKED } from './not-wired.js'

/** A coordinator whose bus the test drives by hand (what the session hears goes to `heard`), and timers that fire when told. */
function fakes(me: TraceRecorder) {
  const posted: OutgoingMessage[] = []
  const timers: Array<() => void> = []
  let ids = 0
  const coordinator = { post: (m: OutgoingMessage) => void posted.push(m), hasPeers: () => true }
  return {
    posted,
    coordinator,
    platform: { after: (_ms: number, fn: () => void) => (timers.push(fn), { cancel: () => undefined }), randomId: () => `id-${++ids}` },
    hear: (m: Message) => heard(m, coordinator, me),
    elapse: () => timers.splice(0).forEach(fn => fn()),
  }
}

const recorder = (tab: string, size = 10) => new TraceRecorder(tab, { now: () => 1_000, session: 's', size, sinks: [] })
const entry = (tab: string, seq: number, extra: Record<string, unknown> = {}) => ({ at: 500 + seq, tab, seq, kind: 'lock-granted', ...extra })

describe('trace peers (fake coordinator)', () => {
  it('merges the answers to its own ask, by time, and takes none once the time is up', async () => {
    const me = recorder('me')
    const f = fakes(me)
    me.record('logout', { reason: 'user' })
    const merged = ask(f.coordinator, me, { timeout: 500 }, f.platform)
    const request = f.posted[0] as { type: string; id: string }
    expect(request.type).toBe('trace-request')
    f.hear({ rotor: 1, type: 'trace', from: 'b', tab: 'b', id: request.id, entries: [entry('b', 1), entry('b', 2)] })
    f.hear({ rotor: 1, type: 'trace', from: 'c', tab: 'c', id: 'another-ask', entries: [entry('c', 1)] })
    f.elapse()
    f.hear({ rotor: 1, type: 'trace', from: 'd', tab: 'd', id: request.id, entries: [entry('d', 1)] })
    const doc = await merged
    expect(doc.tabs).toEqual(['me', 'b'])
    expect(doc.entries.map(e => `${e.tab}${e.seq}`)).toEqual(['b1', 'b2', 'me0'])
  })

  it('keeps only entries of the right shape, at most `size` per member, one answer per member, none claiming to be this member', async () => {
    const me = recorder('me', 8)
    const f = fakes(me)
    const merged = ask(f.coordinator, me, { timeout: 500 }, f.platform)
    const id = (f.posted[0] as { id: string }).id
    const forged: unknown[] = [
      ...Array.from({ length: 1000 }, (_, i) => entry('b', i)),
      { ...entry('b', 2000), kind: 'made-up' },
      { ...entry('b', 2001), body: { nested: 'object' } },
      { ...entry('b', 2002), note: 'x'.repeat(10_000) },
      entry('me', 2003),
      JSON.parse('{"__proto__": null, "at": 1, "tab": "b", "seq": 2004, "kind": "logout"}'),
      entry('b', 2005, { url: 'https://api.example/x?access_token=abcdefghijklmnopqrstuvwxyz' }),
    ]
    f.hear({ rotor: 1, type: 'trace', from: 'b', tab: 'b', id, entries: forged })
    f.hear({ rotor: 1, type: 'trace', from: 'x', tab: 'me', id, entries: [entry('me', 1)] })
    f.hear({ rotor: 1, type: 'trace', from: 'b2', tab: 'b', id, entries: [entry('b', 9999)] })
    f.elapse()
    const doc = await merged
    // The last 8 of 1006 (size 8): two good ones, then forgeries, and the URL's entry with its query cut.
    expect(doc.entries).toEqual([entry('b', 998), entry('b', 999), entry('b', 2005, { url: 'https://api.example/x' })])
    expect(checkEntry(entry('b', 1))).toEqual(entry('b', 1))
    // A field left undefined (a failed refresh without an HTTP status) is no field: the entry is kept without it.
    expect(checkEntry(entry('b', 3, { ok: false, status: undefined, error: 'TypeError' }))).toStrictEqual(entry('b', 3, { ok: false, error: 'TypeError' }))
  })

  it('answers a trace-request with its own entries, and nothing else: an answer to no ask of its own is dropped', () => {
    const me = recorder('me')
    const f = fakes(me)
    me.record('election-won')
    f.hear({ rotor: 1, type: 'hello', from: 'b' })
    f.hear({ rotor: 1, type: 'trace', from: 'b', tab: 'b', id: 'not-asked', entries: [entry('b', 1)] })
    f.hear({ rotor: 1, type: 'trace-request', from: 'b', id: 'q1' })
    expect(f.posted).toEqual([{ type: 'trace', id: 'q1', tab: 'me', entries: [expect.objectContaining({ kind: 'election-won', tab: 'me' })] }])
  })

  it('answers at once, alone, with no peers to ask', async () => {
    const me = recorder('me')
    const f = fakes(me)
    const doc = await ask({ ...f.coordinator, hasPeers: () => false }, me, { timeout: 500 }, f.platform)
    expect(doc.tabs).toEqual(['me'])
    expect(f.posted).toEqual([])
  })
})

describe('session.trace({ tabs: true }) across two sessions of one name', () => {
  let env: Env | undefined
  afterEach(async () => env?.close())

  // Until the session's one subscription dispatches trace messages to peers.heard (the lead's hook in sync), no tab answers.
  ;(PEERS_HOOKED ? it : it.fails)("holds both tabs' entries, each tab once", async () => {
    env = await startEnv()
    const browser = browserTabs(env)
    const a = browser.open()
    const b = browser.open()
    await browser.start(a)
    const tabOf = (s: typeof a) => s.trace().tabs[0]!
    const merged = await a.trace({ tabs: true, timeout: 2_000 })
    expect(merged.tabs).toEqual([tabOf(a), tabOf(b)])
    expect(merged.session).toBe(browser.channelName)
    // Each tab's entries once, in time order (the decision points' wiring fills them in).
    const own = [...a.trace().entries, ...b.trace().entries].sort((x, y) => x.at - y.at)
    expect(merged.entries.map(e => `${e.tab}:${e.seq}`).sort()).toEqual(own.map(e => `${e.tab}:${e.seq}`).sort())
  })
})
