/**
 * What the rotation worker's script leaves out (tsup.config.ts's `notInWorker`), module by
 * module as bench/lib/bundle.ts builds it: each is a part the hub's session never runs, and a
 * change that brings one back (an import that slips past its stand-in) fails here by name,
 * before the byte budget of test/size/budgets.test.ts notices it as a number.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { measureWorker } from '../../bench/lib/bundle.js'

describe("the rotation worker's script", () => {
  let modules: Record<string, number>

  beforeAll(async () => {
    modules = (await measureWorker()).inputs
  }, 60_000)

  it.each([
    ['src/core/options.ts', "the page's option validator: the hub checks a posted config's shape (src/worker/hub-config.ts)"],
    ['src/trace/options.ts', 'the `debug` and `traceSize` checks'],
    ['src/core/gate.ts', 'the gate holding requests: no request waits in the worker'],
    ['src/core/waits.ts', 'the waits of sockets and streams'],
    ['src/trace/kinds.ts', "the check of a peer's trace entries: the worker never asks for a trace"],
    ['src/interceptors/interception.ts', "the page's request path"],
    ['src/interceptors/loop-guard.ts', "the loop guard: it marks the session's calls for the page's interceptors"],
    ['src/utils/redact.ts', "a refusal's body, redacted: no one reads the worker's errors, which say the status alone"],
  ])('leaves %s out (%s)', module => {
    expect(modules, 'the worker script was measured').toHaveProperty(['src/worker/hub.ts'])
    expect(Object.keys(modules)).not.toContain(module)
  })

  it("keeps what the hub runs: its config check, the refresh call, and of the trace's peers only the answer", () => {
    for (const module of ['src/worker/hub-config.ts', 'src/core/refresh-call.ts', 'src/core/rotator.ts']) expect(modules[module], module).toBeGreaterThan(0)
    // `answer` alone is about 150 B minified; with `heard`, `ask` and `merge` the module is ten times that.
    expect(modules['src/trace/peers.ts']).toBeLessThan(400)
  })
})
