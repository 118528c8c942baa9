/** The `random` option of sockets and streams: the reconnect jitter's source, so that a simulator's seed decides every delay. */
import { describe, expect, test } from 'vitest'
import { normalizeSocketOptions, normalizeStreamOptions } from '../../src/socket/options.js'
import type { WebSocketConstructor } from '../../src/socket/types.js'

const WebSocket = class {} as unknown as WebSocketConstructor

describe('random: the jitter of reconnect delays', () => {
  test('a socket and a stream draw their jitter from the source they are given', () => {
    const random = () => 0.25
    expect(normalizeSocketOptions({ WebSocket, url: 'wss://x.test/live', random }).random).toBe(random)
    expect(normalizeStreamOptions({ url: 'https://x.test/events', random }).random).toBe(random)
  })

  test('anything but a function is a TypeError naming the option', () => {
    expect(() => normalizeSocketOptions({ WebSocket, url: 'wss://x.test/live', random: 0.5 as never })).toThrow(/random/)
    expect(() => normalizeStreamOptions({ url: 'https://x.test/events', random: 'seeded' as never })).toThrow(/random/)
  })
})
