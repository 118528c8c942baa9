/**
 * Issue 32's and 29's byte budgets: what a page downloads before its first rotation (main +
 * refresh chunks), the rotation worker's script, and what the decision trace adds to the main
 * chunk, each measured here (bench/lib/) and held to its limit in package.json's `rotor` block;
 * and the README's size table, which must name every chunk at its measured size.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { README_TABLE, limits } from '../../bench/performance-doc.js'
import { ROOT } from '../../bench/lib/bundle.js'
import { sizeReport, type SizeReport } from '../../bench/lib/chunks.js'
import { traceCost, withoutCalls, type TraceCost } from '../../bench/lib/trace-cost.js'

const fmt = (bytes: number) => `${(bytes / 1000).toFixed(2)} KB (${bytes} B)`

describe('byte budgets', () => {
  let report: SizeReport
  let trace: TraceCost
  const limit = limits()

  beforeAll(async () => {
    ;[report, trace] = await Promise.all([sizeReport(), traceCost()])
  }, 120_000)

  it('package.json sets the page, worker and trace limits, and the targets they move toward', () => {
    for (const key of ['page', 'worker', 'trace'] as const) {
      expect(limit[key], `rotor.sizeLimit${key[0]!.toUpperCase()}${key.slice(1)}`).toBeGreaterThan(0)
      expect(limit.targets[key], `rotor.sizeTargets.${key}`).toBeGreaterThan(0)
    }
  })

  it('what a page downloads before its first rotation (main + refresh chunks) stays within rotor.sizeLimitPage', () => {
    const page = report.main.size.gzipped + report.refresh.size.gzipped
    expect(report.refresh.size.gzipped, 'the refresh chunk was found').toBeGreaterThan(0)
    expect(page, `main ${fmt(report.main.size.gzipped)} + refresh ${fmt(report.refresh.size.gzipped)}`).toBeLessThanOrEqual(limit.page)
  })

  it("the rotation worker's script stays within rotor.sizeLimitWorker, without the page's coordinators", () => {
    expect(report.worker.size.gzipped, `the worker script is ${fmt(report.worker.size.gzipped)}`).toBeLessThanOrEqual(limit.worker)
    const modules = report.worker.modules.map(m => m.module)
    expect(modules).toContain('src/worker/hub.ts')
    // The page's coordinators, and what the hub's session never asks for (tsup.config.ts, NOT_IN_WORKER).
    const never = ['src/coordinator/leader-lock.ts', 'src/coordinator/local.ts', 'src/worker/tab.ts', 'src/worker/via-worker.ts']
    for (const module of [...never, 'src/core/idle.ts', 'src/core/ending.ts', 'src/interceptors/install.ts', 'src/trace/sink.ts', 'src/dpop/session.ts'])
      expect(modules).not.toContain(module)
    expect(modules.filter(m => m.startsWith('broadcast-channel/'))).toEqual([])
  })

  it('the trace hooks add at most rotor.sizeLimitTrace to the main chunk (measured: hooks compiled out)', () => {
    expect(trace.without.gzipped, 'compiling the trace out leaves a smaller main chunk').toBeLessThan(trace.shipped.gzipped)
    expect(trace.shipped.gzipped).toBe(report.main.size.gzipped)
    expect(trace.added, `the trace adds ${trace.added} B to the main chunk`).toBeLessThanOrEqual(limit.trace)
  })

  it('every chunk is named in the table (none unaccounted for)', () => {
    const names = report.rows.map(r => r.chunk)
    for (const name of ['main', 'refresh', 'election', 'dpop', 'trace peers', 'worker (rotor-auth/worker)', 'xhr (rotor-auth/xhr)', 'socket (rotor-auth/socket)'])
      expect(names).toContain(name)
    for (const row of report.rows) expect(row.size.gzipped, row.chunk).toBeGreaterThan(0)
  })

  it("the README's size table names every chunk, each at its measured size (to its 0.1 KB)", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const from = readme.indexOf(README_TABLE.start)
    const to = readme.indexOf(README_TABLE.end)
    expect(from, 'README.md has the size table markers (bench/performance-doc.ts README_TABLE)').toBeGreaterThan(0)
    const rows = readme
      .slice(from, to)
      .split('\n')
      .map(line => /^\| (.+?) \| .+ \| ([\d.]+) KB \|$/.exec(line))
      .filter(m => m !== null)
      .map(m => [m[1]!, Number(m[2])] as const)
    expect(
      rows.map(([chunk]) => chunk),
      'every chunk, in the order of docs/performance.md; `npm run bench -- size` rewrites it',
    ).toEqual(report.rows.map(r => r.chunk))
    for (const [chunk, kb] of rows) {
      const measured = report.rows.find(r => r.chunk === chunk)!.size.gzipped / 1000
      expect(Math.abs(kb - measured), `${chunk}: the README says ${kb} KB, measured ${measured} KB`).toBeLessThanOrEqual(0.1)
    }
  })
})

describe('compiling the trace out (bench/lib/trace-cost.ts)', () => {
  it('replaces each hook call, arguments and all, and leaves declarations and other calls alone', () => {
    const source = [
      "trace?.('lock-asked', { refresh: true, generation: f(g(1)) })",
      "this.#options.trace?.('lease-lost', { generation })",
      "if (x) this.#trace?.('logout', { reason })",
      "interception.trace('request-replayed', described(input, init))",
      "onFallback: reason => (cfg.platform.debug?.('worker-fallback', { reason }), emit(reason))",
      'trace(kind) { return 1 }',
      'function trace(kind) {}',
      'traceSize(1); keep(trace)',
    ].join('\n')
    expect(withoutCalls(source).split('\n')).toEqual([
      'void 0',
      'void 0',
      'if (x) void 0',
      'void 0',
      'onFallback: reason => (void 0, emit(reason))',
      'trace(kind) { return 1 }',
      'function trace(kind) {}',
      'traceSize(1); keep(trace)',
    ])
  })
})
