/** DPoP for one session: the key, a proof on each of the session's calls (nonces retried once), and the check that a login grant is bound to that key. */
import type { RotorError, RotorTypeError } from '../errors.js'
import type { Grant } from '../types.js'
import type { fetchTarget, requestURL } from '../utils/scope.js'
import { loadKeyPair, type DpopAlg, type KeyPlatform } from './keys.js'
import { asksForNewProof, NonceMemory, type Answer } from './nonces.js'
import { publicJwk, signProof, thumbprintOf, type ProofPlatform, type SigningKey } from './proof.js'

export type { DpopAlg }

/** What DPoP takes from the platform: WebCrypto, IndexedDB (the shared key) and the wall clock (`iat`). */
export type DpopPlatform = KeyPlatform & ProofPlatform

/**
 * What this chunk uses of the main chunk's modules, handed over by createSession instead of
 * imported: a module imported from here as well would be split out of the main chunk into one
 * both share, and every page, DPoP or not, would pay for the split (+0.7 KB). A tuple, not an
 * object: a minifier keeps property names, and each would be bytes every page downloads.
 */
export type DpopKit = readonly [
  /** interceptors/fetch.ts's: whether fetch can send the body twice. */
  replayableBody: (body: BodyInit | null | undefined) => boolean,
  requestURL: typeof requestURL,
  fetchTarget: typeof fetchTarget,
  /** A JWT's claims (src/utils/decode-jwt.ts's, or jose's); it throws for what is no JWT. */
  decodeJwt: (jwt: string) => Record<string, unknown>,
  RotorError: typeof RotorError,
  RotorTypeError: typeof RotorTypeError,
]

export type Dpop = {
  /** The JWK SHA-256 thumbprint of the session's public key (RFC 7638): what a server puts in `cnf.jkt`. */
  thumbprint(): Promise<string>
  /** A proof for `method` and `url`, with the nonce last given by that origin unless one is passed. */
  proof(method: string, url: string | URL, options?: { accessToken?: string; nonce?: string }): Promise<string>
  /**
   * Sends one request through `base` with a proof, turning `Authorization: Bearer <AT>` into
   * `DPoP <AT>` (with `ath`); a refusal of the proof alone (a nonce asked for, a proof refused)
   * is sent once more with a new proof.
   */
  send(base: typeof fetch, input: RequestInfo | URL, init?: RequestInit): Promise<Response>
  /** For senders other than fetch (XHR): a proof for one attempt, and the nonce it carries (for `refusesProof`). */
  sign(method: string, url: URL, accessToken: string | undefined): Promise<{ proof: string; nonce: string | undefined }>
  /** Keeps the nonce an answer from `origin` carries (a server may send a new one on any answer). */
  remember(origin: string, answer: Answer): void
  /** The grant, or a rejection with `ERR_DPOP_BINDING` when it is plainly not bound to this key. */
  check<T extends Grant | Response | void>(grant: T): Promise<T>
}

/** The AT an `Authorization` value carries (`Bearer <AT>`, or `DPoP <AT>` already). */
export function accessTokenOf(authorization: string | null): string | undefined {
  return /^(?:bearer|dpop) +(\S+)$/i.exec(authorization ?? '')?.[1]
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The key of the session named `name`; loading it starts now, so the first proof seldom waits. */
export function createDpop(name: string, alg: DpopAlg, kit: DpopKit, platform: DpopPlatform): Dpop {
  const [replayableBody, requestURL, fetchTarget, , , RotorTypeError] = kit
  // The JWS header says EdDSA for Ed25519 keys (RFC 8037); oidc-provider takes both names.
  const { crypto } = platform
  const key: Promise<SigningKey> = loadKeyPair(name, alg, platform).then(async pair => ({
    alg: alg === 'Ed25519' ? 'EdDSA' : alg,
    privateKey: pair.privateKey,
    jwk: await publicJwk(crypto, pair.publicKey),
  }))
  // An unused session must not report an unhandled rejection; every use sees the failure.
  key.catch(() => undefined)
  const thumbprint = () => key.then(k => thumbprintOf(crypto, k.jwk))
  const nonces = new NonceMemory()

  async function proof(method: string, url: string | URL, options: { accessToken?: string; nonce?: string } = {}): Promise<string> {
    const target = requestURL(fetchTarget(url))
    // The URL itself is not echoed: a caller may have put a token in its query.
    if (target === undefined) throw new RotorTypeError('ERR_USAGE', 'rotor-auth: dpopProof() needs an absolute URL (or one relative to the page)')
    return signProof(await key, { method, url: target, accessToken: options.accessToken, nonce: options.nonce ?? nonces.get(target.origin) }, platform)
  }

  async function sign(method: string, url: URL, accessToken: string | undefined): Promise<{ proof: string; nonce: string | undefined }> {
    const nonce = nonces.get(url.origin)
    return { proof: await signProof(await key, { method, url, accessToken, nonce }, platform), nonce }
  }

  async function send(base: typeof fetch, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const target = fetchTarget(input)
    const url = requestURL(target)
    // fetch itself will refuse the URL, and say why.
    if (url === undefined) return base(target, init)
    const request = target instanceof Request ? target : undefined
    const method = init?.method ?? request?.method ?? 'GET'
    const headers = new Headers(init?.headers ?? request?.headers)
    const accessToken = accessTokenOf(headers.get('authorization'))
    if (accessToken) headers.set('authorization', `DPoP ${accessToken}`)
    // What a nonce retry sends: the first attempt consumes a Request's body, a stream is never resent.
    let again: string | Request | undefined = replayableBody(init?.body) ? target : undefined
    if (request && request.body !== null && init?.body === undefined) {
      try {
        again = request.clone()
      } catch {
        again = undefined
      }
    }
    const attempt = async (sent: string | Request) => {
      const { proof, nonce } = await sign(method, url, accessToken)
      headers.set('dpop', proof)
      const response = await base(sent, { ...init, headers })
      nonces.remember(url.origin, response)
      return { response, nonce }
    }
    const first = await attempt(target)
    // One retry at most, whatever the server answers next: never a loop.
    if (again === undefined || !(await asksForNewProof(first.response, first.nonce))) return first.response
    await first.response.body?.cancel().catch(() => undefined)
    return (await attempt(again)).response
  }

  const check = <T extends Grant | Response | void>(grant: T) => checkBinding(grant, thumbprint, kit)
  return { thumbprint, proof, send, sign, remember: (origin, answer) => nonces.remember(origin, answer), check }
}

/** The grant, or a rejection with `ERR_DPOP_BINDING` when it is plainly not bound to the key whose thumbprint `thumbprint` gives. */
async function checkBinding<T extends Grant | Response | void>(grant: T, thumbprint: () => Promise<string>, kit: DpopKit): Promise<T> {
  const [, , , decodeJwt, RotorError] = kit
  /** A grant bound to another key than the session's, or to none: it would fail at the first refresh. */
  class DPoPBindingError extends RotorError {
    readonly code = 'ERR_DPOP_BINDING' as const
    override readonly name = 'DPoPBindingError'
  }
  // A Response is read from a clone: start() reads the original. An unreadable one is start()'s to report.
  const body: unknown =
    typeof Response !== 'undefined' && grant instanceof Response
      ? await grant
          .clone()
          .json()
          .catch(() => undefined)
      : grant
  if (!isObject(body)) return grant
  const type = body['token_type'] ?? body['tokenType']
  if (typeof type === 'string' && type.toLowerCase() !== 'dpop') {
    throw new DPoPBindingError(
      `rotor-auth: the grant's token_type is ${JSON.stringify(type.slice(0, 20))}, not "DPoP": the login was not made with the session's DPoP key (use session.dpopFetch or session.dpopProof for the token request)`,
    )
  }
  const accessToken = body['access_token'] ?? body['accessToken']
  let jkt: unknown
  try {
    if (typeof accessToken === 'string' && accessToken.split('.').length === 3) jkt = (decodeJwt(accessToken)['cnf'] as { jkt?: unknown } | undefined)?.jkt
  } catch {
    // An opaque or unreadable AT: only the server can tell.
  }
  if (typeof jkt === 'string' && jkt !== (await thumbprint())) {
    throw new DPoPBindingError("rotor-auth: the grant's access token is bound to another key (its cnf.jkt is not the thumbprint of the session's DPoP key)")
  }
  return grant
}
