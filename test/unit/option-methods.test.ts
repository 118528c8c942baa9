/** The wording of the options that take an object with methods (coordinator, timers, storage): the list of methods is named once in options.ts and must read as before. */
import { describe, expect, test } from 'vitest'
import { normalizeOptions } from '../../src/core/options.js'
import type { SessionOptions } from '../../src/types.js'

const scope = 'https://api.example.org'
const message = (options: Partial<SessionOptions>) => {
  try {
    normalizeOptions({ scope, crossTab: false, ...options } as SessionOptions)
  } catch (error) {
    return (error as Error).message
  }
  return 'accepted'
}

describe('options that take an object with methods', () => {
  test('a value that is no object is told the whole shape', () => {
    expect(message({ coordinator: 1 as never })).toBe(
      'rotor-auth: option `coordinator` must be an object with read, write, lock, post, subscribe, isLeader, hasPeers, close, got 1',
    )
    expect(message({ timers: 'x' as never })).toBe('rotor-auth: option `timers` must be { setTimeout, clearTimeout }, got "x"')
    expect(message({ storage: null as never })).toBe('rotor-auth: option `storage` must be a Storage-like object (getItem, setItem, removeItem), got null')
  })

  test('an object that lacks some is told which', () => {
    expect(message({ timers: { setTimeout } as never })).toBe('rotor-auth: option `timers` must be { setTimeout, clearTimeout } (missing clearTimeout), got {}')
    expect(message({ storage: { getItem: () => null } as never })).toBe(
      'rotor-auth: option `storage` must be a Storage-like object (getItem, setItem, removeItem) (missing setItem, removeItem), got {}',
    )
  })
})
