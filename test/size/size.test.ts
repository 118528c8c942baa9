/**
 * The size budget: Rotor's whole browser bundle (jose and ky included), minified and gzipped
 * as `bench/size.ts` measures it, must stay within `rotor.sizeLimit` in package.json, and the
 * README's size claim must be true (at least the measured size) and within that limit.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { KB, measure, parseSize, ROOT, ROTOR_ALL_IN, type Measured } from '../../bench/lib/bundle.js'

/** The README line the claim is read from, e.g. "**15 KB** min+gzip, everything included". */
const CLAIM = /\*\*\s*(\d+(?:\.\d+)?)\s*KB\s*\*\*\s*min\+gzip/i

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { rotor?: { sizeLimit?: string | number } }
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
const fmt = (bytes: number) => `${(bytes / KB).toFixed(2)} KB (${bytes} B)`

describe('bundle size budget', () => {
  let size: Measured

  beforeAll(async () => {
    size = await measure(ROTOR_ALL_IN)
  }, 60_000)

  it('package.json states the limit (rotor.sizeLimit)', () => {
    expect(pkg.rotor?.sizeLimit, 'package.json needs "rotor": { "sizeLimit": "15 KB" }').toBeDefined()
    expect(() => parseSize(pkg.rotor!.sizeLimit!)).not.toThrow()
  })

  it('the all-in browser bundle (min+gzip) stays within the limit', () => {
    const limit = parseSize(pkg.rotor!.sizeLimit!)
    expect(
      size.gzipped,
      `src/index.ts bundled with its dependencies is ${fmt(size.gzipped)} min+gzip, over the limit of ${fmt(limit)} ` +
        '(package.json rotor.sizeLimit). Trim it, or raise the limit on purpose (and the README claim with it).',
    ).toBeLessThanOrEqual(limit)
  })

  it("the README's size claim is at least the measured size and within the limit", () => {
    const limit = parseSize(pkg.rotor!.sizeLimit!)
    const match = CLAIM.exec(readme)
    const n = Math.ceil(size.gzipped / KB)
    // A missing claim is a failure, not a skip: the README's size line is what this test holds true.
    expect(
      match,
      n * KB <= limit
        ? `README.md has no size claim: add the line "**${n} KB** min+gzip, everything included" ` +
            `(measured now: ${fmt(size.gzipped)}; the number must be >= that and <= rotor.sizeLimit, ${fmt(limit)}).`
        : `README.md has no size claim, and none can be true until the bundle (${fmt(size.gzipped)}) is back ` +
            `within rotor.sizeLimit (${fmt(limit)}); then add "**N KB** min+gzip, everything included".`,
    ).not.toBeNull()
    const claimed = Number(match![1]) * KB
    expect(claimed, `README claims ${match![0]}, but the bundle measures ${fmt(size.gzipped)}`).toBeGreaterThanOrEqual(size.gzipped)
    expect(claimed, `README claims ${match![0]}, more than the limit of ${fmt(limit)}`).toBeLessThanOrEqual(limit)
  })
})
