/** What the decision trace costs the main chunk: the chunk built as shipped, and again with every trace hook and the recorder compiled out. */
import type { Plugin } from 'esbuild'
import { readFileSync } from 'node:fs'
import { measureChunks, type Measured } from './bundle.js'

/**
 * A call that records a decision: `trace?.(…)`, `this.#options.trace?.(…)`,
 * `interception.trace(…)`, `platform.debug?.(…)`. Matched up to its opening parenthesis; the
 * arguments are skipped by counting parentheses (see withoutCalls).
 */
const HOOK = /(?<![\w$#.])(?:[\w$#]+\.)*#?(?:trace|debug)(?:\?\.)?\(/g

/** `source` with every hook call replaced by `void 0`, which is valid wherever the call was. */
export function withoutCalls(source: string): string {
  let out = ''
  let from = 0
  for (const match of source.matchAll(HOOK)) {
    const start = match.index
    if (start < from) continue
    // A declaration (`trace(kind) {`, `function trace(`) is not a call: left alone.
    if (/(?:function|\bget|\bset)\s*$/.test(source.slice(Math.max(0, start - 12), start))) continue
    let depth = 0
    let end = start + match[0].length - 1
    for (; end < source.length; end++) {
      const c = source[end]
      if (c === '(') depth++
      else if (c === ')' && --depth === 0) break
    }
    if (/^\s*\{/.test(source.slice(end + 1))) continue
    out += source.slice(from, start) + 'void 0'
    from = end + 1
  }
  return out + source.slice(from)
}

/** Stand-ins for the trace's own modules in the main chunk: a recorder that keeps nothing, option checks that check nothing. */
const STUBS: Record<string, string> = {
  'src/trace/recorder.ts': 'export class TraceRecorder { record() {} export() {} }',
  'src/trace/options.ts': 'export const TRACE_RULES = {}\nexport const TRACE_SIZE = 500',
}

/** Compiles the trace out of src/ (hooks, recorder, the `debug`/`traceSize` checks); what is lazy (trace/peers.ts) is not in the main chunk anyway. */
export const traceCompiledOut: Plugin = {
  name: 'trace-compiled-out',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, args => {
      const path = args.path.replace(/\\/g, '/')
      const stub = Object.entries(STUBS).find(([file]) => path.endsWith(file))
      if (stub) return { contents: stub[1], loader: 'js' }
      if (/\/src\/(trace|devtools|testing)\//.test(path)) return undefined
      return { contents: withoutCalls(readFileSync(args.path, 'utf8')), loader: 'ts' }
    })
  },
}

export type TraceCost = { shipped: Measured; without: Measured; added: number }

/** The main chunk of src/index.ts with the trace and without it; `added`: the difference, min+gzip bytes. */
export async function traceCost(): Promise<TraceCost> {
  const [shipped, without] = await Promise.all([measureChunks('src/index.ts'), measureChunks('src/index.ts', [traceCompiledOut])])
  return { shipped: shipped.main, without: without.main, added: shipped.main.gzipped - without.main.gzipped }
}
