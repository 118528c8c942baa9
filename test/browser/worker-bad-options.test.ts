/**
 * The worker's script as published (tsup.config.ts's `notInWorker`: without the page's option
 * validator, src/worker/hub-config.ts in its place), in every engine of engines.ts: a page of
 * the origin that opens the session's SharedWorker and posts hellos with options no page of
 * this version sends is refused, each time with a code and the key named, and starts nothing;
 * the app's tab that comes next is welcomed, and the worker alone rotates its session (the
 * server counts the refreshes) and answers the tab's `trace({ tabs: true })` with its decisions.
 * Figures are printed with `[worker-bad-options]`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultChannelName } from '../../src/core/options.js'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { PROTOCOL_VERSION, type WorkerConfig } from '../../src/worker/protocol.js'
import { ENGINES, engineSkipReason, launchEngine, PAGE_ERROR_CATCHER, type Engine } from './engines'
import { buildBundles, tabHTML, type TabStats } from './harness'
import { fallbacks } from './worker-pages'

const AT = 2_000
const RT = 120_000
const WORKER = '/rotor-worker.js'

/** Each a hello's config a forged or older page might post, and the key its refusal must name. */
const badConfigs = (origin: string): Array<[config: unknown, key: string]> => {
  const good: WorkerConfig = {
    transport: 'cookie',
    rotation: 'timer',
    refresh: { url: `${origin}/authn/refresh`, style: 'folio' },
    logout: `${origin}/authn/logout`,
    headers: [['x-okapi-tenant', 'diku']],
    rotateAt: 0.8,
    refreshTimeout: 10_000,
    refreshRetries: 2,
    queueTimeout: 30_000,
  }
  return [
    [{ ...good, rotateAt: 'soon' }, 'config.rotateAt'],
    [{ ...good, refresh: { url: '/authn/refresh', style: 'folio' } }, 'config.refresh'],
    [{ ...good, transport: 'dpop' }, 'config.transport'],
    [{ ...good, headers: 'x-okapi-tenant: diku' }, 'config.headers'],
    [null, 'config'],
  ]
}

const forgerHTML = `<!doctype html><meta charset="utf-8">${PAGE_ERROR_CATCHER}<title>another page of the origin</title>`

describe.each(ENGINES.map(name => ({ name })))('a page posting bad options to the rotation worker in $name', ({ name }) => {
  const skipReason = engineSkipReason(name)
  if (skipReason) console.warn(`[worker-bad-options] ${name} skipped: ${skipReason}`)
  let engine: Engine | undefined
  let server: AuthServer
  let origin = ''

  beforeAll(async () => {
    if (skipReason) return
    const bundles = await buildBundles()
    server = createAuthServer({ accessTokenTtl: AT, refreshTokenTtl: RT })
    const face = await server.listen({
      static: {
        '/tab.html': { type: 'text/html', body: tabHTML(PAGE_ERROR_CATCHER) },
        '/forger.html': { type: 'text/html', body: forgerHTML },
        '/rotor.js': { type: 'text/javascript', body: bundles.rotor },
        '/tab.js': { type: 'text/javascript', body: bundles.tab },
        [WORKER]: { type: 'text/javascript', body: bundles.rotorWorker },
      },
    })
    origin = face.origin
    engine = await launchEngine(name)
  })

  afterAll(async () => {
    await engine?.close()
    await server?.close()
  })

  it.skipIf(skipReason !== undefined)(
    'each is refused with ERR_INVALID_OPTION naming the key; the app tab after it is welcomed and the worker rotates it (no fallback, no local rotation)',
    async () => {
      // The worker's name: the session's channel, as the cookie tab page's options derive it.
      const channel = defaultChannelName({ scope: origin }, new URL(`${origin}/authn/refresh`), new URL(`${origin}/authn/logout`))
      const bad = badConfigs(origin)
      const forger = await engine!.newTab(`${origin}/forger.html`)
      await forger.evaluate(
        (workerName: string, script: string, hellos: unknown[]) => {
          const page = window as unknown as { answers: unknown[]; worker: SharedWorker }
          page.answers = []
          page.worker = new SharedWorker(script, { name: workerName })
          page.worker.port.onmessage = event => page.answers.push(event.data)
          page.worker.port.start()
          for (const hello of hellos) page.worker.port.postMessage(hello)
        },
        channel,
        WORKER,
        bad.map(([config], i) => ({ w: 'hello', id: i + 1, version: PROTOCOL_VERSION, reauthenticates: false, config })),
      )
      const answers = await forger.waitFor(
        (n: number) => {
          const got = (window as unknown as { answers: unknown[] }).answers
          return got.length >= n && got
        },
        { args: [bad.length], timeout: 15_000, message: 'the worker answered every hello' },
      )
      console.log(`[worker-bad-options] ${name}: ${JSON.stringify(answers)}`)
      expect(answers).toEqual(
        bad.map(([, key], i) => ({
          w: 'refused',
          id: i + 1,
          code: 'ERR_INVALID_OPTION',
          reason: expect.stringContaining(`${key} is not as a page of this version sends it`),
        })),
      )

      const tab = await engine!.newTab(`${origin}/tab.html?transport=cookie&rotation=timer&worker=${encodeURIComponent(WORKER)}`)
      await tab.waitFor(() => window.rotor !== undefined, { message: 'the tab page loaded' })
      expect(await tab.evaluate(() => window.rotor.login())).toBe(201)
      await tab.waitFor(() => window.rotor.stats.rotations.remote >= 2, { timeout: 20_000, message: 'the worker rotated the session twice' })
      const stats = (await tab.evaluate(() => window.rotor.stats)) as TabStats
      console.log(`[worker-bad-options] ${name}: refreshes=${server.stats.refreshCalls} remote rotations=${stats.rotations.remote}`)
      expect(fallbacks(stats), 'the tab fell back').toEqual([])
      expect(stats.rotations.local, 'the tab rotated by itself').toBe(0)
      expect(server.stats.refreshCalls, 'refreshes the server saw').toBeGreaterThanOrEqual(2)
      expect(server.stats.reusedRefused).toBe(0)
      // The worker's session answers a tab's trace request (src/trace/peers.ts's `answer`, all the script keeps of it).
      const trace = await tab.evaluate(() =>
        window.rotor.session.trace({ tabs: true }).then(t => ({ tabs: t.tabs, theirs: t.entries.filter(e => e.tab !== t.tabs[0]).map(e => e.kind) })),
      )
      console.log(`[worker-bad-options] ${name}: the worker's trace: ${trace.theirs.length} entries (${[...new Set(trace.theirs)].join(', ')})`)
      expect(trace.tabs, "this tab's and the worker's").toHaveLength(2)
      expect(trace.theirs).toContain('rotation-started')
      expect([...(await forger.errors()), ...(await tab.errors())], 'uncaught page errors').toEqual([])
    },
    90_000,
  )
})
