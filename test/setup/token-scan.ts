/** The token scan's registry and check: which tokens the test servers issued, what errors and events said, and whether any of it contains token text. */

/**
 * A leak is any run of this many characters of a token's payload or signature: enough that
 * no English text or base64 of a fixed claim prefix is mistaken for one by chance, short
 * enough that a token cut in half, or one part of it, is still caught.
 */
export const WINDOW = 16

/** Where a scanned text came from: an event (by name) or a constructed error, and the test that was running. */
export interface Origin {
  kind: string
  test: string
}

export interface Hit {
  origin: Origin
  /** The matched run of token characters, shortened so the report does not itself leak a whole token. */
  match: string
  /** Which token part it matched, and which kind of token (`AT`, `RT`, or `token` when the issuer did not say). */
  part: 'payload' | 'signature'
  token: string
}

/**
 * Tokens known and texts recorded for one test file. Texts are kept as they were serialised
 * (events) or as the objects themselves (errors, whose subclasses finish their own fields
 * after the base constructor runs), and checked together at the end.
 */
export class TokenScan {
  /** Every 16-character window of every issued token's payload and signature. */
  readonly #windows = new Map<string, { part: 'payload' | 'signature'; token: string }>()
  readonly #tokens = new Set<string>()
  readonly #texts: Array<{ origin: Origin; text: string }> = []
  readonly #errors: Array<{ origin: Origin; error: unknown }> = []

  get tokensKnown(): number {
    return this.#tokens.size
  }

  get payloadsRecorded(): number {
    return this.#texts.length + this.#errors.length
  }

  /** An issued AT or RT (a JWT, or an opaque token: then the whole token counts as its "signature"). */
  addToken(token: unknown, label = 'token'): void {
    if (typeof token !== 'string' || token.length < WINDOW || this.#tokens.has(token)) return
    this.#tokens.add(token)
    const parts = token.split('.')
    // The JWT header is the same for every token of a server (and for tokens tests make by
    // hand), so it says nothing about which token leaked: only the payload and signature count.
    const named: Array<[string, 'payload' | 'signature']> =
      parts.length === 3
        ? [
            [parts[1]!, 'payload'],
            [parts[2]!, 'signature'],
          ]
        : [[token, 'signature']]
    for (const [part, name] of named) {
      for (let i = 0; i + WINDOW <= part.length; i++) {
        // A window two tokens share (an AT and an RT of one user begin alike) names both kinds.
        const key = part.slice(i, i + WINDOW)
        const kinds = new Set([...(this.#windows.get(key)?.token.split('/') ?? []), label])
        this.#windows.set(key, { part: name, token: [...kinds].join('/') })
      }
    }
  }

  recordEvent(origin: Origin, payload: unknown): void {
    this.#texts.push({ origin, text: serialise(payload) })
  }

  recordError(origin: Origin, error: unknown): void {
    this.#errors.push({ origin, error })
  }

  /** Every recorded text that contains token text, at most one hit per text. */
  check(): Hit[] {
    const hits: Hit[] = []
    const all = [...this.#texts, ...this.#errors.map(({ origin, error }) => ({ origin, text: serialise(error) }))]
    for (const { origin, text } of all) {
      let hit: Hit | undefined
      for (let i = 0; i + WINDOW <= text.length; i++) {
        const known = this.#windows.get(text.slice(i, i + WINDOW))
        if (!known) continue
        hit ??= { origin, ...known, match: `${text.slice(i, i + 6)}…` }
        // A run only one token has (its signature, its jti) says which kind leaked.
        if (!known.token.includes('/')) {
          hit = { origin, ...known, match: `${text.slice(i, i + 6)}…` }
          break
        }
      }
      if (hit) hits.push(hit)
    }
    return hits
  }
}

let current = new TokenScan()

/** The scan the setup file's hooks record into (one per test file). */
export const currentScan = (): TokenScan => current

/** Puts `next` in place of the current scan and returns the old one (the scan's own tests use it). */
export function swapScan(next: TokenScan): TokenScan {
  const previous = current
  current = next
  return previous
}

/** For issuers the setup file's hooks do not see (a third-party provider in a test): record what they issue. */
export function recordIssuedToken(...tokens: unknown[]): void {
  for (const token of tokens) current.addToken(token)
}

/** One line per hit, naming the event or error and the test; never the token itself. */
export function describeHits(hits: Hit[]): string {
  return hits.map(h => `${h.token} text (its ${h.part}, from "${h.match}") in ${h.origin.kind} during "${h.origin.test}"`).join('\n')
}

const MAX_DEPTH = 8
const MAX_NODES = 5_000

/**
 * JSON-like text of a payload: every own field, errors with their `name`, `message`, own
 * fields (`body`, `status`, `reason`…) and `cause` chain, never their `stack` (file paths,
 * not server data). Bounded in depth and size; cycles are cut.
 */
export function serialise(value: unknown): string {
  const seen = new Set<object>()
  let nodes = 0
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return v
    if (typeof v === 'bigint' || typeof v === 'symbol') return String(v)
    if (typeof v === 'function') return undefined
    if (seen.has(v as object) || depth > MAX_DEPTH || ++nodes > MAX_NODES) return '[…]'
    seen.add(v as object)
    if (v instanceof Error) {
      const out: Record<string, unknown> = { name: v.name, message: v.message }
      for (const key of Object.keys(v)) if (key !== 'stack') out[key] = walk((v as unknown as Record<string, unknown>)[key], depth + 1)
      if ('cause' in v) out['cause'] = walk(v.cause, depth + 1)
      if (v instanceof AggregateError) out['errors'] = walk(v.errors, depth + 1)
      return out
    }
    // Platform objects keep their contents out of Object.keys: a form body, headers, a request.
    if (v instanceof URLSearchParams) return v.toString()
    if (v instanceof Headers) return [...v]
    if (v instanceof Request || v instanceof Response) return { url: v.url, headers: [...v.headers] }
    if (Array.isArray(v)) return v.map(x => walk(x, depth + 1))
    if (v instanceof Map) return [...v].map(x => walk(x, depth + 1))
    if (v instanceof Set) return [...v].map(x => walk(x, depth + 1))
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(v as object)) out[key] = walk((v as Record<string, unknown>)[key], depth + 1)
    return out
  }
  return JSON.stringify(walk(value, 0)) ?? ''
}
