/**
 * Where a request's time goes: a task run in a loop under V8's sampling profiler, each sample
 * attributed to Rotor's bundle or to what it called, for the overhead scenario's profile tables.
 */
import { Session as InspectorSession } from 'node:inspector/promises'
import { rotorSource } from './rotor.js'
import type { Task } from './paired.js'

type Frame = { url: string; functionName: string; lineNumber: number; columnNumber: number }

const isRotor = (f: Frame) => f.url.startsWith('data:')
const isHarness = (f: Frame) => f.url.includes('/bench/') || f.url.includes('tinybench')

/** What the leaf of a sample attributed to Rotor was doing. */
function kind(leaf: Frame): string {
  if (isRotor(leaf)) return "Rotor's own code"
  if (leaf.url.includes('internal/url')) return 'URL parsing and getters (node:url)'
  if (leaf.url.includes('undici')) return 'Headers / Request plumbing (undici)'
  return 'builtins and V8 runtime (promises, object spread, strings)'
}

type Attribution = { calls: number; total: number; gc: number; rotor: Map<string, number>; functions: Map<string, number> }

/**
 * Runs `one` back to back for `ms` under V8's sampling profiler. A sample belongs to Rotor
 * when the nearest frame on its stack that is either Rotor's bundle or the bench's own code
 * is Rotor's: so the fake network's `new Response`, called from Rotor, stays the network's.
 * All figures in ns per call.
 */
async function cpuProfile(one: () => Promise<unknown>, ms: number): Promise<Attribution> {
  const inspector = new InspectorSession()
  inspector.connect()
  try {
    await inspector.post('Profiler.enable')
    await inspector.post('Profiler.setSamplingInterval', { interval: 50 })
    await inspector.post('Profiler.start')
    let calls = 0
    const end = performance.now() + ms
    while (performance.now() < end) {
      for (let i = 0; i < 100; i++) await one()
      calls += 100
    }
    const { profile } = await inspector.post('Profiler.stop')
    const byId = new Map(profile.nodes.map(node => [node.id, node]))
    const parent = new Map<number, number>()
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
    const owner = (id: number): 'rotor' | 'other' => {
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const frame = byId.get(at)!.callFrame
        if (isRotor(frame)) return 'rotor'
        if (isHarness(frame)) return 'other'
      }
      return 'other'
    }
    const result: Attribution = { calls, total: 0, gc: 0, rotor: new Map(), functions: new Map() }
    const samples = profile.samples ?? []
    const deltas = profile.timeDeltas ?? []
    for (let i = 0; i < samples.length; i++) {
      const leaf = byId.get(samples[i]!)!.callFrame
      const ns = (deltas[i] ?? 0) * 1000
      if (leaf.functionName === '(idle)') continue
      result.total += ns
      if (leaf.functionName === '(garbage collector)') result.gc += ns
      else if (owner(samples[i]!) === 'rotor') {
        const k = kind(leaf)
        result.rotor.set(k, (result.rotor.get(k) ?? 0) + ns)
        if (isRotor(leaf)) {
          const name = leaf.functionName || anonymous(leaf.lineNumber, leaf.columnNumber)
          result.functions.set(name, (result.functions.get(name) ?? 0) + ns)
        }
      }
    }
    const perCall = (m: Map<string, number>) => new Map([...m].map(([k, v]) => [k, v / calls]))
    return { calls, total: result.total / calls, gc: result.gc / calls, rotor: perCall(result.rotor), functions: perCall(result.functions) }
  } finally {
    inspector.disconnect()
  }
}

/** Names an anonymous function of the Rotor bundle by the start of its source. */
function anonymous(line: number, column: number): string {
  const text = rotorSource()
    ?.split('\n')
    [line]?.slice(column, column + 48)
    .replace(/\s+/g, ' ')
    .trim()
  return text ? `(anonymous: ${text}…)` : '(anonymous)'
}

/**
 * Where Rotor's extra time goes: `session.fetch` in a loop under the sampling profiler, each
 * sample attributed (see cpuProfile). It profiles the real code, whatever src/ holds today.
 */
export async function profile(transport: string, reference: Task, rotor: Task): Promise<string[]> {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const base = await cpuProfile(reference.one, 1500)
  gc?.()
  const p = await cpuProfile(rotor.one, 1500)
  const attributed = [...p.rotor.values()].reduce((a, b) => a + b, 0)
  const functions = [...p.functions].sort((a, b) => b[1] - a[1]).slice(0, 8)
  return [
    `**${transport}.** CPU profile of \`session.fetch\` in a loop (V8 sampling profiler` +
      ', 50 µs interval, 1.5 s; the profiler slows everything ' +
      "down, so read the shares). A sample counts for Rotor when the nearest frame on its stack that is Rotor's or the " +
      "bench's is Rotor's — the fake network's `new Response`, called by Rotor, is not counted:",
    '',
    "| Rotor's time, by what was running | ns/request | share of the request |",
    '|---|--:|--:|',
    ...[...p.rotor].sort((a, b) => b[1] - a[1]).map(([k, ns]) => `| ${k} | ${Math.round(ns)} | ${((100 * ns) / p.total).toFixed(1)} % |`),
    `| **all attributed to Rotor** | **${Math.round(attributed)}** | **${((100 * attributed) / p.total).toFixed(1)} %** |`,
    '',
    `Garbage collection (not attributable per sample): ${Math.round(p.gc)} ns/request with Rotor, ${Math.round(base.gc)} ` +
      `with the hand-written fetch (${((100 * p.gc) / p.total).toFixed(0)} % and ${((100 * base.gc) / base.total).toFixed(0)} % of the time).`,
    '',
    "Rotor's own functions by self time (ns/request; small functions the JIT inlined are counted in their caller): " +
      functions.map(([name, ns]) => `\`${name}\` ${Math.round(ns)}`).join(', ') +
      '.',
  ]
}
