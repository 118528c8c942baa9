/**
 * The two faces of the reference auth server, for `describe.each` suites: a real
 * `node:http` server on 127.0.0.1 and msw handlers (`setupServer`, unhandled requests are
 * errors). Usage:
 *
 *   describe.each(authFaces())('$name face', (face) => {
 *     beforeAll(() => face.beforeAll())
 *     afterAll(() => face.afterAll())
 *     afterEach(() => face.unmount())
 *     it('…', async () => { const { server, url } = await face.mount({ basePath: '/okapi' }) })
 *   })
 */
import { setupServer, type SetupServer } from 'msw/node'
import { createAuthServer, type AuthServer, type AuthServerOptions } from '../../src/testing/index.js'

export interface MountedAuthServer {
  server: AuthServer
  /** origin + basePath, no trailing slash */
  url: string
  origin: string
  /**
   * What makes a hung request give up on this face: `close()` for HTTP (which also stops
   * the face), `releaseHung()` for msw.
   */
  abort(): Promise<void>
}

export interface AuthFace {
  name: 'http' | 'msw'
  beforeAll(): void | Promise<void>
  afterAll(): void | Promise<void>
  mount(options?: AuthServerOptions): Promise<MountedAuthServer>
  unmount(): Promise<void>
}

export function httpFace(): AuthFace {
  let current: { server: AuthServer; close: () => Promise<void> } | undefined
  return {
    name: 'http',
    beforeAll() {},
    afterAll() {},
    async mount(options) {
      const server = createAuthServer(options)
      const { url, origin, close } = await server.listen()
      current = { server, close }
      return { server, url, origin, abort: close }
    },
    async unmount() {
      await current?.close()
      current = undefined
    },
  }
}

export function mswFace(origin = 'http://auth.test'): AuthFace {
  let msw: SetupServer | undefined
  let current: AuthServer | undefined
  return {
    name: 'msw',
    beforeAll() {
      const api = setupServer()
      api.listen({ onUnhandledRequest: 'error' })
      msw = api
    },
    afterAll() {
      msw?.close()
      msw = undefined
    },
    async mount(options) {
      if (!msw) throw new Error('mswFace: beforeAll() was not called')
      const server = createAuthServer(options)
      msw.resetHandlers(...(await server.handlers(origin)))
      current = server
      return { server, url: origin + server.basePath, origin, abort: async () => server.releaseHung() }
    },
    async unmount() {
      current?.releaseHung()
      current = undefined
      msw?.resetHandlers()
    },
  }
}

export function authFaces(): AuthFace[] {
  return [httpFace(), mswFace()]
}
