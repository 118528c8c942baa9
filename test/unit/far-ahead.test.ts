/**
 * The one far-ahead rule (src/coordinator/protocol.ts `farAhead`), used by the sessions'
 * `plausible`, the leader lock's "newest seen" and the worker hub's `acceptable`: a generation
 * more than MAX_GENERATION_JUMP past the newest one held is a forgery, from generation 0 too.
 */
import { describe, expect, test } from 'vitest'
import { farAhead, MAX_GENERATION, MAX_GENERATION_JUMP, plausible, SIGNED_OUT } from '../../src/coordinator/protocol.js'

describe('farAhead', () => {
  test('the edge: exactly MAX_GENERATION_JUMP ahead is news, one more is a forgery', () => {
    for (const known of [0, 1, 7, 2 ** 30]) {
      expect(farAhead(known + MAX_GENERATION_JUMP, known), `${known} + jump`).toBe(false)
      expect(farAhead(known + MAX_GENERATION_JUMP + 1, known), `${known} + jump + 1`).toBe(true)
    }
  })

  test('behind, equal and one ahead are never far ahead', () => {
    expect(farAhead(3, 4)).toBe(false)
    expect(farAhead(4, 4)).toBe(false)
    expect(farAhead(5, 4)).toBe(false)
    expect(farAhead(0, MAX_GENERATION)).toBe(false)
  })

  test('from generation 0 (a member that holds nothing yet) a leap is refused too: 2^40 is no news to anyone', () => {
    expect(farAhead(MAX_GENERATION, 0)).toBe(true)
    expect(plausible({ generation: MAX_GENERATION }, SIGNED_OUT)).toBe(false)
    expect(plausible({ generation: MAX_GENERATION }, undefined)).toBe(false)
    expect(plausible({ generation: MAX_GENERATION_JUMP }, undefined)).toBe(true)
  })

  test('plausible is the rule on snapshots', () => {
    const at = (generation: number) => ({ ...SIGNED_OUT, generation })
    expect(plausible(at(10 + MAX_GENERATION_JUMP), at(10))).toBe(true)
    expect(plausible(at(11 + MAX_GENERATION_JUMP), at(10))).toBe(false)
  })
})
