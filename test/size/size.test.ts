/**
 * The size budget: the main chunk of Rotor's browser bundle (what a page downloads before
 * createSession runs; jose included, the refresh call loads on demand), minified and
 * gzipped as a bundler with code splitting builds it, must stay within `rotor.sizeLimit` in
 * package.json; main plus the refresh chunk (every page loads it) within `rotor.sizeLimitTotal`;
 * leader election (broadcast-channel) only on demand, in a chunk of its own; and the README's size claim
 * must be true (at least the measured main chunk) and within the limit.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { KB, measureChunks, parseSize, ROOT, type Chunks, type Measured } from '../../bench/lib/bundle.js'

/** The README line the claim is read from, e.g. "**15 KB** min+gzip in the main chunk". */
const CLAIM = /\*\*\s*(\d+(?:\.\d+)?)\s*KB\s*\*\*\s*min\+gzip/i

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  rotor?: { sizeLimit?: string | number; sizeLimitTotal?: string | number }
}
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
const fmt = (bytes: number) => `${(bytes / KB).toFixed(2)} KB (${bytes} B)`

describe('bundle size budget', () => {
  let size: Measured
  let onDemand: Measured
  let lazy: Chunks['lazy']
  let mainInputs: string[]

  beforeAll(async () => {
    ;({ main: size, onDemand, lazy, mainInputs } = await measureChunks('src/index.ts'))
  }, 60_000)

  /** The on-demand chunk holding `source`. */
  function chunkWith(source: string): Measured {
    const chunk = lazy.find(c => c.inputs.includes(source))
    expect(chunk, `${source} is in a chunk of its own, loaded on demand`).toBeDefined()
    return chunk!.size
  }

  it('package.json states the limit (rotor.sizeLimit)', () => {
    expect(pkg.rotor?.sizeLimit, 'package.json needs "rotor": { "sizeLimit": "15 KB" }').toBeDefined()
    expect(() => parseSize(pkg.rotor!.sizeLimit!)).not.toThrow()
  })

  it('the main chunk (min+gzip) stays within the limit', () => {
    const limit = parseSize(pkg.rotor!.sizeLimit!)
    expect(
      size.gzipped,
      `the main chunk of src/index.ts is ${fmt(size.gzipped)} min+gzip, over the limit of ${fmt(limit)} ` +
        '(package.json rotor.sizeLimit). Trim it, load more on demand, or raise the limit on purpose (and the README claim with it).',
    ).toBeLessThanOrEqual(limit)
  })

  it('the refresh call loads on demand, and main + it stays within rotor.sizeLimitTotal', () => {
    expect(onDemand.gzipped, 'no chunk is loaded on demand: the refresh call should be one').toBeGreaterThan(0)
    const refresh = chunkWith('src/core/refresh-call.ts')
    const total = parseSize(pkg.rotor!.sizeLimitTotal!)
    // Every page loads the refresh chunk (in the background, at createSession): it counts.
    expect(size.gzipped + refresh.gzipped, `main ${fmt(size.gzipped)} + refresh call ${fmt(refresh.gzipped)}`).toBeLessThanOrEqual(total)
  })

  it('leader election (broadcast-channel) loads only where tabs have no Web Locks, in a chunk of its own', () => {
    const election = chunkWith('src/coordinator/leader-lock.ts')
    const inputs = lazy.find(c => c.inputs.includes('src/coordinator/leader-lock.ts'))!.inputs
    expect(
      inputs.some(i => i.includes('node_modules/broadcast-channel/')),
      'broadcast-channel is in the election chunk',
    ).toBe(true)
    expect(inputs, 'the refresh call is not in the election chunk').not.toContain('src/core/refresh-call.ts')
    expect(election.gzipped).toBeGreaterThan(0)
  })

  it("the devtools panel (rotor-auth/devtools) is in no chunk of the main entry; merging tabs' traces loads on demand", () => {
    expect(mainInputs, 'the main chunk was measured').toContain('src/session.ts')
    const everything = [...mainInputs, ...lazy.flatMap(c => c.inputs)]
    expect(everything.filter(i => i.startsWith('src/devtools/'))).toEqual([])
    expect(mainInputs).not.toContain('src/trace/peers.ts')
    expect(mainInputs).not.toContain('src/trace/kinds.ts')
    expect(chunkWith('src/trace/peers.ts').gzipped).toBeGreaterThan(0)
  })

  it('the idle logout and the session-ending warning load only for sessions that ask for them, each in a chunk of its own', () => {
    for (const part of ['src/core/idle.ts', 'src/core/ending.ts']) {
      expect(mainInputs, `${part} is not in the main chunk (a page without its option never downloads it)`).not.toContain(part)
      const inputs = lazy.find(c => c.inputs.includes(part))?.inputs
      expect(inputs, `${part} is in a chunk loaded on demand`).toBeDefined()
      expect(inputs, `the refresh call is not in ${part}'s chunk`).not.toContain('src/core/refresh-call.ts')
    }
  })

  it("the README's size claim is at least the measured size and within the limit", () => {
    const limit = parseSize(pkg.rotor!.sizeLimit!)
    const match = CLAIM.exec(readme)
    const n = Math.ceil(size.gzipped / KB)
    // A missing claim is a failure, not a skip: the README's size line is what this test holds true.
    expect(
      match,
      n * KB <= limit
        ? `README.md has no size claim: add the line "**${n} KB** min+gzip in the main chunk" ` +
            `(measured now: ${fmt(size.gzipped)}; the number must be >= that and <= rotor.sizeLimit, ${fmt(limit)}).`
        : `README.md has no size claim, and none can be true until the bundle (${fmt(size.gzipped)}) is back ` +
            `within rotor.sizeLimit (${fmt(limit)}); then add "**N KB** min+gzip in the main chunk".`,
    ).not.toBeNull()
    const claimed = Number(match![1]) * KB
    expect(claimed, `README claims ${match![0]}, but the bundle measures ${fmt(size.gzipped)}`).toBeGreaterThanOrEqual(size.gzipped)
    expect(claimed, `README claims ${match![0]}, more than the limit of ${fmt(limit)}`).toBeLessThanOrEqual(limit)
  })
})
