/** install() into a fetch chain another wrapper also patches: uninstall and dispose leave every link working. */
import { afterEach, describe, expect } from 'vitest'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

describe('install() under another wrapper', () => {
  const native = globalThis.fetch
  afterEach(() => {
    globalThis.fetch = native
  })

  // Before: after uninstall or dispose, the session's fetch fell back to globalThis.fetch,
  // which was the monitoring wrapper, which called Rotor's wrapper: RangeError (stack overflow).
  test('a monitoring wrapper over Rotor, then uninstall and dispose: every fetch still works, the monitor still sees it', async ({ env }) => {
    const session = await env.bearer()
    const uninstall = session.install(globalThis, { xhr: false })
    const rotor = globalThis.fetch
    const monitored: string[] = []
    const monitor: typeof fetch = (input, init) => {
      monitored.push(String(input instanceof Request ? input.url : input))
      return rotor(input, init)
    }
    globalThis.fetch = monitor
    expect((await fetch(`${env.url}/api/a`)).status).toBe(200) // through the monitor, then Rotor
    uninstall()
    expect(globalThis.fetch).toBe(monitor) // not cut out of the chain
    expect((await fetch(`${env.url}/api/b`)).status).toBe(401) // Rotor passes through: no token any more
    expect((await session.fetch(`${env.url}/api/c`)).status).toBe(200) // the session itself still works
    session.dispose()
    expect((await fetch(`${env.url}/api/d`)).status).toBe(401)
    expect(monitored).toEqual([`${env.url}/api/a`, `${env.url}/api/b`, `${env.url}/api/d`])
    expect(env.server.stats).toMatchObject({ api200: 2, api401: 2 })
  })

  // Before: the second session's base fetch was the first one's wrapper; uninstalling the
  // first restored the native fetch under the second's feet, or looped.
  test('two sessions installed on one target, the first uninstalled: the second still authorises its requests', async ({ env }) => {
    const first = await env.bearer()
    const second = await env.bearer()
    const off1 = first.install(globalThis, { xhr: false })
    second.install(globalThis, { xhr: false })
    off1()
    expect((await fetch(`${env.url}/api/x`)).status).toBe(200)
    second.dispose()
    expect((await fetch(`${env.url}/api/y`)).status).toBe(401)
    expect(env.server.stats).toMatchObject({ api200: 1, api401: 1 })
  })
})
