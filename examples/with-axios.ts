/**
 * axios on top of Rotor through axios' fetch adapter (`adapter: 'fetch'`, `env.fetch`). For
 * axios' default XHR adapter in browsers, `session.install(globalThis, { xhr })` with the facade of
 * `rotor-auth/xhr` is the way (docs/guides/http-clients.md).
 */
import axios from 'axios'
import type { Session } from '../src/index.js'

export function axiosClient(session: Session, baseURL: string) {
  return axios.create({ baseURL, adapter: 'fetch', env: { fetch: session.fetch } })
}
