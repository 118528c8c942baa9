/** The DPoP of one session, made the first time the session asks for it (this chunk loads only then): its signing fetch, proofs, the login grant check and the XHR facade's signing. */
import type { Config } from '../core/options.js'
import { createDpop, type Dpop, type DpopKit } from './index.js'
import { xhrProof, type XhrProof } from './xhr.js'

/** What createSession forwards to: every method of the session that DPoP changes. */
export type SessionDpop = {
  /** The session's own calls and `dpopFetch`: a proof on each, `use_dpop_nonce` retried once. */
  send: typeof fetch
  proof: Dpop['proof']
  check: Dpop['check']
  xhr(method: string, url: string, authorization: string): Promise<XhrProof>
}

/** One per session: its key starts loading when the session is created, its nonces are remembered across calls. */
const bySession = new WeakMap<Config, SessionDpop>()

/** The DPoP of the session configured by `cfg`, sending through `base`; a session without `dpop` has none to give. */
export function dpopOf(cfg: Config, base: typeof fetch, kit: DpopKit): SessionDpop {
  const [, , , , , RotorTypeError] = kit
  if (!cfg.dpop) throw new RotorTypeError('ERR_USAGE', 'rotor-auth: dpopProof() and dpopFetch() need the `dpop` option')
  let found = bySession.get(cfg)
  if (found === undefined) {
    const dpop = createDpop(cfg.channelName ?? cfg.storageKey, cfg.dpop, kit, cfg.platform)
    found = {
      send: (input, init) => dpop.send(base, input, init),
      proof: dpop.proof,
      check: dpop.check,
      xhr: (method, url, authorization) => xhrProof(dpop, kit, method, url, authorization),
    }
    bySession.set(cfg, found)
  }
  return found
}
