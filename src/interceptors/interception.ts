/** Which requests are the session's, and what a managed request carries (cookies or the bearer AT). */
import type { Gate } from '../core/gate.js'
import type { Config } from '../core/options.js'
import type { SessionMachine } from '../core/state.js'
import type { Interception } from './fetch.js'

export function createInterception(cfg: Config, machine: SessionMachine, gate: Gate, guard: Pick<Interception, 'passThrough' | 'sendOwn' | 'looped'>): Interception {
  // The refresh and logout calls must never wait for a rotation (it would wait for itself).
  const endpoints = [cfg.refreshURL, cfg.logoutURL].filter(url => url !== undefined)
  const bearer = cfg.transport === 'bearer'
  // The page's own origin (none in Node, where a cookie jar wrapper reads `include`).
  const pageOrigin = cfg.platform.location().origin
  // The header value is built once per AT, not per request: a concatenated string is also
  // flattened again by every Headers that reads it.
  let token: string | undefined
  let header = 'Bearer '
  const authorization = (): string | undefined => {
    if (!bearer) return undefined
    const at = machine.snapshot.accessToken ?? ''
    if (at !== token) {
      token = at
      header = `Bearer ${at}`
    }
    return header
  }
  return {
    passThrough: guard.passThrough,
    sendOwn: guard.sendOwn,
    looped: guard.looped,
    gate,
    cookies: !bearer,
    credentials: origin => (pageOrigin !== undefined && origin === pageOrigin ? 'same-origin' : 'include'),
    managing: () => machine.managing(),
    claim: cfg.scope.claim(endpoints),
    time: cfg.platform,
    trace: (kind, fields) => cfg.platform.debug?.(kind, fields),
    authorization,
    generation: () => machine.snapshot.generation,
    active: () => machine.snapshot.status === 'active',
  }
}
