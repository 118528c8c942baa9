/** ky on top of Rotor: ky keeps its ergonomics (prefixUrl, json, hooks); Rotor the tokens. */
import ky from 'ky'
import type { Session } from '../src/index.js'

export function apiClient(session: Session, prefixUrl: string) {
  return ky.create({
    prefixUrl,
    fetch: session.fetch,
    // Rotor already replays a 401 once after rotating; ky must not retry it on top.
    retry: { limit: 2, statusCodes: [408, 502, 503, 504] },
  })
}
