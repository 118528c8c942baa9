/** Unit tests for the default coordinator (src/coordinator/): snapshot ordering, message validation, storage, lock, channel. */
import { describe, expect, test } from 'vitest'
import { MAX_GENERATION, parseMessage, parseSnapshot, SIGNED_OUT, supersedes, type Message, type Snapshot } from '../../src/coordinator/protocol.js'
import { createLocalCoordinator, type LocalCoordinatorOptions } from '../../src/coordinator/local.js'
import type { ChannelLike } from '../../src/platform/types.js'
import type { StorageLike } from '../../src/types.js'
import { createPlatform } from '../../src/platform/defaults.js'
import { memoryStorage, sleep, waitFor } from '../helpers/index.js'

type Shared = ReturnType<typeof createLocalCoordinator>
type SharedOptions = LocalCoordinatorOptions
const createShared = createLocalCoordinator

const T = 1_900_000_000_000

const active = (generation: number, extra: Partial<Snapshot> = {}): Snapshot => ({
  generation,
  status: 'active',
  issuedAt: T,
  accessExpiresAt: T + 60_000,
  refreshExpiresAt: T + 3_600_000,
  ...extra,
})
const signedOut = (generation: number, extra: Partial<Snapshot> = {}): Snapshot => ({ ...SIGNED_OUT, generation, ...extra })

const KEY = 'rotor-auth:test'

function unnamed(options: Partial<SharedOptions> = {}): Shared {
  return createShared({ name: undefined, storage: undefined, storageKey: KEY, persistTokens: false, platform: createPlatform(), ...options })
}

describe('supersedes', () => {
  test('a higher generation wins, whatever the status', () => {
    expect(supersedes(active(2), active(1))).toBe(true)
    expect(supersedes(active(2), signedOut(1))).toBe(true)
    expect(supersedes(signedOut(2), active(1))).toBe(true)
    expect(supersedes(active(1), active(2))).toBe(false)
    expect(supersedes(signedOut(1), active(2))).toBe(false)
  })

  test('at an equal generation signed-out beats active, never the reverse', () => {
    expect(supersedes(signedOut(3), active(3))).toBe(true)
    expect(supersedes(active(3), signedOut(3))).toBe(false)
  })

  test('equal generation and status never supersede', () => {
    expect(supersedes(active(3), active(3, { accessExpiresAt: T + 999_999 }))).toBe(false)
    expect(supersedes(signedOut(3), signedOut(3))).toBe(false)
    expect(supersedes(SIGNED_OUT, SIGNED_OUT)).toBe(false)
  })
})

describe('generation bounds (a forged huge generation wedged every tab)', () => {
  test('parseSnapshot and parseMessage refuse generations beyond MAX_GENERATION, MAX_SAFE_INTEGER among them', () => {
    for (const generation of [Number.MAX_SAFE_INTEGER, MAX_GENERATION + 1]) {
      expect(parseSnapshot(active(generation))).toBeUndefined()
      expect(parseMessage({ rotor: 1, type: 'rotating', from: 'x', generation })).toBeUndefined()
    }
    expect(parseSnapshot(active(MAX_GENERATION))).toMatchObject({ generation: MAX_GENERATION })
  })
})

describe('parseSnapshot', () => {
  test.each([
    ['an active snapshot', active(1)],
    ['an active snapshot with tokens', active(7, { accessToken: 'at', refreshToken: 'rt' })],
    ['an active snapshot with an opaque RT', active(1, { refreshExpiresAt: null })],
    ['SIGNED_OUT', SIGNED_OUT],
    ['a signed-out snapshot with a reason', signedOut(4, { reason: 'idle' })],
  ])('accepts %s', (_why, snapshot) => {
    expect(parseSnapshot(JSON.parse(JSON.stringify(snapshot)))).toEqual(snapshot)
  })

  test.each(['expired', 'rejected', 'user', 'idle'] as const)('accepts the logout reason %s', reason => {
    expect(parseSnapshot(signedOut(1, { reason }))?.reason).toBe(reason)
  })

  test('keeps only the known fields', () => {
    const parsed = parseSnapshot({ ...active(1), evil: true, from: 'x' })
    expect(parsed).toEqual(active(1))
  })

  const base = active(1) as Record<string, unknown>
  test.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', '{"generation":1}'],
    ['a number', 1],
    ['an array', [active(1)]],
    ['an empty object', {}],
    ['a missing generation', { ...base, generation: undefined }],
    ['a negative generation', { ...base, generation: -1 }],
    ['a float generation', { ...base, generation: 1.5 }],
    ['a string generation', { ...base, generation: '1' }],
    ['an unsafe generation', { ...base, generation: 2 ** 60 }],
    ['an unknown status', { ...base, status: 'rotating' }],
    ['a missing status', { ...base, status: undefined }],
    ['active without accessExpiresAt', { ...base, accessExpiresAt: null }],
    ['active without issuedAt', { ...base, issuedAt: null }],
    ['a string accessExpiresAt', { ...base, accessExpiresAt: String(T) }],
    ['an infinite refreshExpiresAt', { ...base, refreshExpiresAt: Number.POSITIVE_INFINITY }],
    ['a NaN issuedAt', { ...base, issuedAt: Number.NaN }],
    ['a missing refreshExpiresAt', { ...base, refreshExpiresAt: undefined }],
    ['a number accessToken', { ...base, accessToken: 42 }],
    ['an object refreshToken', { ...base, refreshToken: { value: 'rt' } }],
    ['an unknown logout reason', { ...SIGNED_OUT, reason: 'disposed' }],
    ['a non-string reason', { ...SIGNED_OUT, reason: 1 }],
  ])('rejects %s', (_why, value) => {
    expect(parseSnapshot(value)).toBeUndefined()
  })

  test('a JSON `__proto__` key neither passes validation nor pollutes', () => {
    expect(parseSnapshot(JSON.parse(`{"__proto__": ${JSON.stringify(active(1))}}`))).toBeUndefined()
    const parsed = parseSnapshot(JSON.parse(`{${JSON.stringify(active(1)).slice(1, -1)}, "__proto__": {"polluted": true}}`))
    expect(parsed).toEqual(active(1))
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype)
    expect((parsed as Record<string, unknown>)['polluted']).toBeUndefined()
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })
})

describe('parseMessage', () => {
  const valid: Message[] = [
    { rotor: 1, type: 'state', from: 'a', snapshot: active(2, { accessToken: 'at' }) },
    { rotor: 1, type: 'state', from: 'a', snapshot: signedOut(3, { reason: 'user' }) },
    { rotor: 1, type: 'rotating', from: 'a', generation: 2 },
    { rotor: 1, type: 'rotating', from: 'a', generation: 0 },
    { rotor: 1, type: 'rotated', from: 'a', generation: 2, ok: true },
    { rotor: 1, type: 'rotated', from: 'a', generation: 2, ok: false },
    { rotor: 1, type: 'hello', from: 'a' },
    { rotor: 1, type: 'activity', from: 'a', at: T },
  ]
  test.each(valid.map(m => [`${m.type} ${JSON.stringify(m).slice(0, 60)}`, m] as const))('accepts %s', (_why, message) => {
    expect(parseMessage(structuredClone(message))).toEqual(message)
  })

  test('returns a fresh object with only the known fields', () => {
    const parsed = parseMessage({ rotor: 1, type: 'hello', from: 'a', extra: 'x', snapshot: active(1) })
    expect(parsed).toEqual({ rotor: 1, type: 'hello', from: 'a' })
  })

  test.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', 'hello'],
    ['a number', 1],
    ['an array', [{ rotor: 1, type: 'hello', from: 'a' }]],
    ['an empty object', {}],
    ['rotor 2', { rotor: 2, type: 'hello', from: 'a' }],
    ['rotor "1"', { rotor: '1', type: 'hello', from: 'a' }],
    ['no rotor', { type: 'hello', from: 'a' }],
    ['no from', { rotor: 1, type: 'hello' }],
    ['a number from', { rotor: 1, type: 'hello', from: 1 }],
    ['an unknown type', { rotor: 1, type: 'logout', from: 'a' }],
    ['no type', { rotor: 1, from: 'a' }],
    ['state without a snapshot', { rotor: 1, type: 'state', from: 'a' }],
    ['state with a malformed snapshot', { rotor: 1, type: 'state', from: 'a', snapshot: { ...active(1), generation: '2' } }],
    ['state active without accessExpiresAt', { rotor: 1, type: 'state', from: 'a', snapshot: { ...active(1), accessExpiresAt: null } }],
    ['state with an unknown reason', { rotor: 1, type: 'state', from: 'a', snapshot: { ...SIGNED_OUT, reason: 'hacked' } }],
    ['state with a number token', { rotor: 1, type: 'state', from: 'a', snapshot: { ...active(1), accessToken: 1 } }],
    ['rotating with a string generation', { rotor: 1, type: 'rotating', from: 'a', generation: '2' }],
    ['rotating with a float generation', { rotor: 1, type: 'rotating', from: 'a', generation: 2.5 }],
    ['rotating without a generation', { rotor: 1, type: 'rotating', from: 'a' }],
    ['rotated without ok', { rotor: 1, type: 'rotated', from: 'a', generation: 2 }],
    ['rotated with a string ok', { rotor: 1, type: 'rotated', from: 'a', generation: 2, ok: 'true' }],
    ['rotated with a float generation', { rotor: 1, type: 'rotated', from: 'a', generation: 0.1, ok: true }],
    ['activity with a string at', { rotor: 1, type: 'activity', from: 'a', at: String(T) }],
    ['activity with NaN', { rotor: 1, type: 'activity', from: 'a', at: Number.NaN }],
    ['activity without at', { rotor: 1, type: 'activity', from: 'a' }],
  ])('rejects %s', (_why, value) => {
    expect(parseMessage(value)).toBeUndefined()
  })

  test.each([
    ['rotating', { rotor: 1, type: 'rotating', from: 'a', generation: -1 }],
    ['rotated', { rotor: 1, type: 'rotated', from: 'a', generation: -1, ok: true }],
  ])('rejects %s with a negative generation', (_why, value) => {
    expect(parseMessage(value)).toBeUndefined()
  })

  test('JSON `__proto__` keys neither pass validation nor pollute', () => {
    expect(parseMessage(JSON.parse('{"__proto__": {"rotor": 1, "type": "hello", "from": "a"}}'))).toBeUndefined()
    const parsed = parseMessage(JSON.parse('{"rotor": 1, "type": "hello", "from": "a", "__proto__": {"polluted": true}}'))
    expect(parsed).toEqual({ rotor: 1, type: 'hello', from: 'a' })
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })
})

describe('createShared without a name (crossTab: false)', () => {
  test('is primary, shares nothing, and post is a no-op', () => {
    const a = unnamed()
    const b = unnamed()
    try {
      expect(a.isLeader()).toBe(true)
      expect(b.isLeader()).toBe(true)
      expect(a.id).not.toBe(b.id)
      a.write(active(1))
      expect(a.read()).toEqual(active(1))
      expect(b.read()).toBeUndefined()
      expect(() => a.post({ type: 'hello' })).not.toThrow()
    } finally {
      a.close()
      b.close()
    }
  })

  test('read() is undefined before anything was written', () => {
    const a = unnamed({ storage: memoryStorage() })
    expect(a.read()).toBeUndefined()
    a.close()
  })

  test('round trip through storage strips the tokens when persistTokens is false', () => {
    const storage = memoryStorage()
    const a = unnamed({ storage })
    const b = unnamed({ storage }) // a reload
    try {
      const snapshot = active(1, { accessToken: 'at', refreshToken: 'rt' })
      a.write(snapshot)
      const raw = storage.map.get(KEY)
      expect(raw).toBeDefined()
      expect(raw).not.toContain('"at"')
      expect(raw).not.toContain('"rt"')
      expect(JSON.parse(raw ?? 'null')).toEqual(active(1))
      // the writer keeps its tokens in memory, the reader only gets what storage holds
      expect(a.read()).toEqual(snapshot)
      expect(b.read()).toEqual(active(1))
    } finally {
      a.close()
      b.close()
    }
  })

  test('round trip through storage keeps the tokens when persistTokens is true', () => {
    const storage = memoryStorage()
    const a = unnamed({ storage, persistTokens: true })
    const b = unnamed({ storage, persistTokens: true })
    try {
      const snapshot = active(1, { accessToken: 'at', refreshToken: 'rt' })
      a.write(snapshot)
      expect(JSON.parse(storage.map.get(KEY) ?? 'null')).toEqual(snapshot)
      expect(b.read()).toEqual(snapshot)
    } finally {
      a.close()
      b.close()
    }
  })

  test('uses the storage key it was given', () => {
    const storage = memoryStorage()
    const a = unnamed({ storage, storageKey: 'custom-key' })
    a.write(active(1))
    expect([...storage.map.keys()]).toEqual(['custom-key'])
    a.close()
  })

  test('read() returns whichever of storage and memory supersedes the other', () => {
    const storage = memoryStorage()
    const a = unnamed({ storage })
    try {
      a.write(active(1, { accessToken: 'mine' }))
      // another tab wrote a newer generation
      storage.setItem(KEY, JSON.stringify(active(2)))
      expect(a.read()).toEqual(active(2))
      // another tab logged out at the same generation
      storage.setItem(KEY, JSON.stringify(signedOut(2, { reason: 'user' })))
      expect(a.read()).toEqual(signedOut(2, { reason: 'user' }))
      // an older stored snapshot does not win over memory
      storage.setItem(KEY, JSON.stringify(signedOut(0)))
      expect(a.read()).toEqual(active(1, { accessToken: 'mine' }))
    } finally {
      a.close()
    }
  })

  test('write() never moves memory back to a superseded snapshot', () => {
    const a = unnamed()
    a.write(active(3))
    a.write(active(2))
    expect(a.read()).toEqual(active(3))
    a.write(signedOut(3))
    a.write(active(3)) // a late rotation answer after a logout
    expect(a.read()).toEqual(signedOut(3))
    a.write(active(4))
    expect(a.read()).toEqual(active(4))
    a.close()
  })

  test.each([
    ['not JSON', '{oops'],
    ['JSON null', 'null'],
    ['a JSON array', '[]'],
    ['a JSON string', '"active"'],
    ['a malformed snapshot', JSON.stringify({ ...active(1), generation: '1' })],
    ['an active snapshot without deadlines', JSON.stringify({ generation: 1, status: 'active' })],
  ])('garbage in storage (%s) reads as undefined', (_why, raw) => {
    const storage = memoryStorage()
    storage.setItem(KEY, raw)
    const a = unnamed({ storage })
    expect(a.read()).toBeUndefined()
    a.close()
  })

  test('storage that throws reads as undefined and does not break write()', () => {
    const broken: StorageLike = {
      getItem: () => {
        throw new Error('SecurityError')
      },
      setItem: () => {
        throw new Error('QuotaExceededError')
      },
      removeItem: () => undefined,
    }
    const a = unnamed({ storage: broken })
    expect(a.read()).toBeUndefined()
    expect(() => a.write(active(1))).not.toThrow()
    expect(a.read()).toEqual(active(1))
    a.close()
  })

  test('lock runs holders one at a time in FIFO order, even when one throws', async () => {
    const a = unnamed()
    const order: string[] = []
    let running = 0
    let overlap = false
    const holder = (label: string, ms: number, fail?: 'async' | 'sync') => () => {
      if (fail === 'sync') {
        order.push(label)
        throw new Error(label)
      }
      return (async () => {
        if (running++ > 0) overlap = true
        order.push(`${label}>`)
        await sleep(ms)
        order.push(`<${label}`)
        running--
        if (fail === 'async') throw new Error(label)
        return label
      })()
    }
    const results = [
      a.lock(holder('1', 15)),
      a.lock(holder('2', 1, 'async')),
      a.lock(holder('3', 5)),
      a.lock(holder('4', 0, 'sync') as () => Promise<string>),
      a.lock(holder('5', 0)),
    ]
    const settled = await Promise.allSettled(results)
    expect(settled.map(s => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual(['1', '2', '3', '4', '5'])
    expect(settled.map(s => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'])
    expect(order).toEqual(['1>', '<1', '2>', '<2', '3>', '<3', '4', '5>', '<5'])
    expect(overlap).toBe(false)
    a.close()
  })

  test('close() twice is harmless', () => {
    const a = unnamed({ storage: memoryStorage() })
    a.close()
    expect(() => a.close()).not.toThrow()
  })
})

describe('createShared with a name (BroadcastChannel)', () => {
  const opened: Shared[] = []
  function named(name: string, options: Partial<SharedOptions> = {}): Shared {
    const shared = createShared({ name, storage: undefined, storageKey: KEY, persistTokens: false, platform: createPlatform(), ...options })
    opened.push(shared)
    return shared
  }
  const uniqueName = () => `rotor-unit-${crypto.randomUUID()}`
  function closeAll(): void {
    for (const shared of opened.splice(0)) shared.close()
  }
  function inbox(shared: Shared): Message[] {
    const got: Message[] = []
    shared.subscribe(message => got.push(message))
    return got
  }

  test('a post arrives at the other instances, not at the sender', async () => {
    try {
      const name = uniqueName()
      const a = named(name)
      const b = named(name)
      const c = named(name)
      const [gotA, gotB, gotC] = [inbox(a), inbox(b), inbox(c)]
      a.post({ type: 'rotating', generation: 4 })
      await waitFor(() => gotB.length > 0 && gotC.length > 0)
      const expected = { rotor: 1, type: 'rotating', from: a.id, generation: 4 }
      expect(gotB).toEqual([expected])
      expect(gotC).toEqual([expected])
      // b answers: a hears it, and the sender b does not
      b.post({ type: 'state', snapshot: active(5, { accessToken: 'at' }) })
      await waitFor(() => gotA.length > 0 && gotC.length > 1)
      await sleep(10)
      expect(gotA).toEqual([{ rotor: 1, type: 'state', from: b.id, snapshot: active(5, { accessToken: 'at' }) }])
      expect(gotB).toEqual([expected])
    } finally {
      closeAll()
    }
  })

  test('different names do not hear each other', async () => {
    try {
      const name = uniqueName()
      const a = named(name)
      const sameName = named(name)
      const otherName = named(uniqueName())
      const gotSame = inbox(sameName)
      const gotOther = inbox(otherName)
      a.post({ type: 'hello' })
      await waitFor(() => gotSame.length > 0)
      await sleep(10)
      expect(gotSame).toEqual([{ rotor: 1, type: 'hello', from: a.id }])
      expect(gotOther).toEqual([])
    } finally {
      closeAll()
    }
  })

  test('the first created is primary; when it closes the next one becomes primary', () => {
    try {
      const name = uniqueName()
      const a = named(name)
      const b = named(name)
      const c = named(name)
      expect([a.isLeader(), b.isLeader(), c.isLeader()]).toEqual([true, false, false])
      a.close()
      expect([b.isLeader(), c.isLeader()]).toEqual([true, false])
      c.close()
      expect(b.isLeader()).toBe(true)
      const d = named(name)
      expect(d.isLeader()).toBe(false)
    } finally {
      closeAll()
    }
  })

  test('instances of one name share the snapshot and the lock in one process', async () => {
    try {
      const name = uniqueName()
      const a = named(name)
      const b = named(name)
      a.write(active(2, { accessToken: 'at' }))
      expect(b.read()).toEqual(active(2, { accessToken: 'at' }))
      const order: string[] = []
      const first = a.lock(async () => {
        order.push('a>')
        await sleep(10)
        order.push('<a')
      })
      const second = b.lock(async () => {
        order.push('b')
      })
      await Promise.all([first, second])
      expect(order).toEqual(['a>', '<a', 'b'])
      // the in-memory snapshot dies with the last instance holding it
      a.close()
      expect(b.read()).toEqual(active(2, { accessToken: 'at' }))
      b.close()
      const c = named(name)
      expect(c.read()).toBeUndefined()
    } finally {
      closeAll()
    }
  })

  test('a closed instance neither sends nor receives, and close() twice is harmless', async () => {
    try {
      const name = uniqueName()
      const a = named(name)
      const b = named(name)
      const gotA = inbox(a)
      const gotB = inbox(b)
      b.close()
      expect(() => b.close()).not.toThrow()
      expect(() => b.post({ type: 'hello' })).not.toThrow()
      a.post({ type: 'hello' })
      await sleep(30)
      expect(gotA).toEqual([])
      expect(gotB).toEqual([])
    } finally {
      closeAll()
    }
  })

  /**
   * Runs fn with this process's uncaughtException listeners swapped for a recorder, so an
   * exception thrown inside a channel listener fails the test that caused it, clearly.
   */
  async function recordingUncaught(fn: () => Promise<void>): Promise<unknown[]> {
    const errors: unknown[] = []
    const saved = process.listeners('uncaughtException')
    const record = (error: unknown) => void errors.push(error)
    process.removeAllListeners('uncaughtException')
    process.on('uncaughtException', record)
    try {
      await fn()
    } finally {
      process.off('uncaughtException', record)
      for (const listener of saved) process.on('uncaughtException', listener)
    }
    return errors
  }

  const GARBAGE: unknown[] = [
    'garbage',
    null,
    42,
    [],
    {},
    // the broadcast-channel package's envelope, from an older build in another tab
    { time: Number.MAX_SAFE_INTEGER, type: 'message', data: { rotor: 1, type: 'hello', from: 'x' } },
    { rotor: 2, type: 'hello', from: 'x' },
    { rotor: 1, type: 'hello' },
    { rotor: 1, type: 'logout', from: 'x' },
    { rotor: 1, type: 'state', from: 'x', snapshot: { generation: 99, status: 'active' } },
    { rotor: 1, type: 'state', from: 'x', snapshot: { ...SIGNED_OUT, generation: 99, reason: 'hacked' } },
    { rotor: 1, type: 'rotated', from: 'x', generation: '3', ok: true },
    { rotor: 1, type: 'activity', from: 'x', at: 'now' },
  ]

  test('a raw BroadcastChannel post of garbage is not delivered, and throws nothing', async () => {
    const name = uniqueName()
    const raw = new BroadcastChannel(name)
    try {
      const delivered: Message[] = []
      let sender = ''
      const errors = await recordingUncaught(async () => {
        const a = named(name)
        const b = named(name)
        sender = b.id
        a.subscribe(message => delivered.push(message))
        for (const garbage of GARBAGE) raw.postMessage(garbage)
        b.post({ type: 'hello' })
        await waitFor(() => delivered.length > 0)
        await sleep(20)
      })
      expect(errors).toEqual([])
      expect(delivered).toEqual([{ rotor: 1, type: 'hello', from: sender }])
    } finally {
      raw.close()
      closeAll()
    }
  })

  test('a well-formed message posted on the raw channel is delivered (the wire format is the message itself)', async () => {
    const name = uniqueName()
    const raw = new BroadcastChannel(name)
    try {
      const a = named(name)
      const got = inbox(a)
      const snapshot = signedOut(9, { reason: 'user' })
      raw.postMessage({ rotor: 1, type: 'state', from: 'other-tab', snapshot, extra: 'dropped' })
      await waitFor(() => got.length > 0)
      expect(got).toEqual([{ rotor: 1, type: 'state', from: 'other-tab', snapshot }])
    } finally {
      raw.close()
      closeAll()
    }
  })

  test('a message claiming to come from the instance itself is dropped', async () => {
    const name = uniqueName()
    const raw = new BroadcastChannel(name)
    try {
      const a = named(name)
      const got = inbox(a)
      raw.postMessage({ rotor: 1, type: 'hello', from: a.id })
      raw.postMessage({ rotor: 1, type: 'hello', from: 'someone-else' })
      await waitFor(() => got.length > 0)
      await sleep(10)
      expect(got).toEqual([{ rotor: 1, type: 'hello', from: 'someone-else' }])
    } finally {
      raw.close()
      closeAll()
    }
  })
})

describe('the default coordinator on its platform (issue 27)', () => {
  const tab = (realms: Map<string, unknown>, channel: (name: string) => ChannelLike) => {
    let ids = 0
    const platform = createPlatform({ platform: { realms, channel, locks: undefined, browsing: false, randomId: () => `member-${++ids}-${realms.size}` } })
    return createShared({ name: 'platform-test', storage: undefined, storageKey: KEY, persistTokens: false, platform })
  }
  /** A channel factory that records what is opened and posted, delivering nothing. */
  const recording = () => {
    const posted: unknown[] = []
    const names: string[] = []
    const open = (name: string): ChannelLike => (names.push(name), { postMessage: m => posted.push(m), onmessage: null, onmessageerror: null, close: () => undefined })
    return { open, posted, names }
  }

  test('the realm registry, channel and ids are the platform’s: two simulated tabs share no in-process state', () => {
    const { open, posted, names } = recording()
    const a = tab(new Map(), open)
    const b = tab(new Map(), open)
    try {
      // Each tab is alone in its own realm: both lead, neither sees the other's in-memory snapshot.
      expect([a.isLeader(), b.isLeader(), a.hasPeers(), b.hasPeers()]).toEqual([true, true, false, false])
      a.write(active(4))
      expect(b.read()).toBeUndefined()
      a.post({ type: 'hello' })
      expect(names).toEqual(['platform-test', 'platform-test'])
      expect(posted).toEqual([{ type: 'hello', rotor: 1, from: a.id }])
      expect(a.id).toMatch(/^member-1-/)
    } finally {
      a.close()
      b.close()
    }
  })

  test('sessions given one realm registry share it, and the last to leave empties it', () => {
    const realms = new Map<string, unknown>()
    const a = tab(realms, recording().open)
    const b = tab(realms, recording().open)
    expect([a.isLeader(), b.isLeader(), a.hasPeers()]).toEqual([true, false, true])
    a.write(active(5))
    expect(b.read()).toMatchObject({ generation: 5 })
    a.close()
    b.close()
    expect(realms.size).toBe(0)
  })
})
