/** The trace recorder and its options: the ring's bound, the `debug` sinks and levels, bad input named. */
import { describe, expect, it, vi } from 'vitest'
import { createSession } from '../../src/index.js'
import { TraceRecorder, type TraceEntry } from '../../src/trace/recorder.js'
import { attach, debugSink } from '../../src/trace/sink.js'
import { startEnv, waitFor } from '../helpers/index.js'

const recorder = (size: number, sinks: Array<((e: TraceEntry) => void) | undefined> = []) => {
  let t = 0
  return new TraceRecorder('tab', { now: () => ++t, session: 'name', size, sinks })
}

describe('TraceRecorder', () => {
  it('keeps the newest `size` entries in order, each with its tab and seq; 0 keeps none', () => {
    const r = recorder(3)
    for (let i = 0; i < 5; i++) r.record('lock-asked', { i })
    expect(r.entries().map(e => [e['i'], e.seq, e.tab])).toEqual([
      [2, 2, 'tab'],
      [3, 3, 'tab'],
      [4, 4, 'tab'],
    ])
    expect(r.export()).toMatchObject({ rotor: 'trace', version: 1, session: 'name', tabs: ['tab'], entries: r.entries() })
    const none = recorder(0)
    none.record('logout')
    expect(none.entries()).toEqual([])
    // Once full it is a ring: at every count, wrapped once or several times, the newest `size` in order.
    const ring = recorder(3)
    for (let n = 1; n <= 10; n++) {
      ring.record('lock-asked', { n })
      expect(ring.entries().map(e => e['n'])).toEqual(Array.from({ length: Math.min(n, 3) }, (_, i) => n - Math.min(n, 3) + 1 + i))
    }
  })

  it('a sink that throws changes nothing: the next sink and the ring still get the entry', () => {
    const seen: string[] = []
    const r = recorder(2, [
      () => {
        throw new TypeError('app bug')
      },
      e => seen.push(e.kind),
    ])
    r.record('election-won')
    expect(seen).toEqual(['election-won'])
    expect(r.entries()).toHaveLength(1)
  })
})

describe('the debug option', () => {
  it('true: the console, routine kinds at debug, warnings at warn, the end at info', () => {
    const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn() }
    const sink = debugSink(true, logger)!
    const r = recorder(5, [sink])
    r.record('lock-granted')
    r.record('lease-lost')
    r.record('logout', { reason: 'user' })
    expect(logger.debug).toHaveBeenCalledWith('rotor-auth lock-granted', expect.objectContaining({ kind: 'lock-granted' }))
    expect(logger.warn).toHaveBeenCalledWith('rotor-auth lease-lost', expect.objectContaining({ kind: 'lease-lost' }))
    expect(logger.info).toHaveBeenCalledWith('rotor-auth logout', expect.objectContaining({ reason: 'user' }))
  })

  it('a logger with only `log` gets every level there; a function gets the entry; false/undefined: no sink', () => {
    const log = vi.fn()
    recorder(1, [debugSink({ log }, console)]).record('budget-reached', { limit: 3 })
    expect(log).toHaveBeenCalledOnce()
    const fn = vi.fn()
    expect(debugSink(fn, console)).toBe(fn)
    expect(debugSink(false, console)).toBeUndefined()
    expect(debugSink(undefined, console)).toBeUndefined()
  })

  it("a session's logger (loaded on demand) hears every entry its trace holds, in order, those recorded before it loaded included", async () => {
    const env = await startEnv()
    try {
      const log = vi.fn()
      const session = await env.bearer({ debug: { log } })
      await session.rotate()
      expect(env.server.stats.refreshGranted).toBe(1)
      await waitFor(() => log.mock.calls.some(([, e]) => (e as TraceEntry).kind === 'rotation-answered'))
      expect(log.mock.calls.map(([, e]) => e)).toEqual(session.trace().entries)
      session.dispose()
    } finally {
      await env.close()
    }
  })

  it('a sink attached late (the console or a logger, loaded on demand) hears the entries held first, then each new one', () => {
    const r = recorder(5)
    r.record('lock-asked', { refresh: true })
    r.record('lock-granted', { waitedMs: 0 })
    const log = vi.fn()
    attach(r, { log }, console)
    r.record('lock-released')
    expect(log.mock.calls.map(([line]) => line)).toEqual(['rotor-auth lock-asked', 'rotor-auth lock-granted', 'rotor-auth lock-released'])
  })

  it('bad input is a TypeError naming the option', () => {
    const base = { scope: 'https://api.example', crossTab: false as const }
    for (const debug of ['yes', 1, {}, { debug: 'no' }, null]) {
      expect(() => createSession({ ...base, debug: debug as never }), String(debug)).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`debug`') }),
      )
    }
    for (const traceSize of [-1, 1.5, '10', 100_001]) {
      expect(() => createSession({ ...base, traceSize: traceSize as never })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`traceSize`') }),
      )
    }
    for (const debug of [true, false, () => undefined, { warn: () => undefined }]) createSession({ ...base, debug }).dispose()
    createSession({ ...base, traceSize: 0 }).dispose()
  })
})
