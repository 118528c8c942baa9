/** Turns a server's answer into a short excerpt that is safe to put in an error: anything that looks like a token is replaced. */

/** How much of an excerpt is kept: enough for "Missing X-Okapi-Tenant header" or an OAuth2 `error_description`. */
export const EXCERPT_LENGTH = 200
const HIDDEN = '[redacted]'

/** Field names whose values are secrets, in JSON, forms, cookies and headers alike. */
const SECRET_NAME = String.raw`[\w.-]*(?:token|secret|password|passwd|assertion|session|cookie|code|jwt|key)[\w.-]*`

/**
 * Each pattern replaces what a token may look like, most specific first: a JWT (three
 * base64url parts, the first `eyJ`), the value of a secret-named JSON field, form field or
 * cookie, an `Authorization` value, then any long base64url run (opaque tokens, signatures).
 */
const PATTERNS: Array<[RegExp, string]> = [
  [/eyJ[\w-]*\.[\w-]*(?:\.[\w-]*)?/g, HIDDEN],
  [new RegExp(String.raw`("${SECRET_NAME}"\s*:\s*)"(?:[^"\\]|\\.)*"`, 'gi'), `$1"${HIDDEN}"`],
  [new RegExp(String.raw`\b(${SECRET_NAME})=[^&;,\s"']+`, 'gi'), `$1=${HIDDEN}`],
  [/\b(Bearer|Basic|DPoP)\s+[\w~+/.=-]+/gi, `$1 ${HIDDEN}`],
  // A long run with a digit in it: random, not a word (`invalid-refresh-token-reuse-detected` stays).
  [/(?=[\w+/~-]*\d)[\w+/~-]{24,}={0,2}/g, HIDDEN],
]

/** Replaces every token-like part of `text`. */
export function redact(text: string): string {
  let out = text
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement)
  return out
}

/**
 * What a refusal's body says, for a person: an OAuth2 or JSON error's own words
 * (`error: error_description`, or `message`) when there are any, else the text; whitespace
 * collapsed, token-like parts redacted, at most {@link EXCERPT_LENGTH} characters.
 */
export function excerpt(body: string): string {
  let text = body
  try {
    const json = JSON.parse(body) as Record<string, unknown>
    const said = [json['error'], json['error_description'] ?? json['message'] ?? json['errors']]
      .map(part => (typeof part === 'string' ? part : part === undefined ? '' : JSON.stringify(part)))
      .filter(Boolean)
    if (said.length > 0) text = said.join(': ')
  } catch {
    // Not JSON: the text as it is (FOLIO answers refusals in text/plain).
  }
  // Redacted before it is cut, so a token cut in half is still recognised as one; and again
  // after, in case the cut joined two harmless parts into something token-like.
  const flat = redact(text.replace(/\s+/g, ' ').trim())
  return redact(flat.length > EXCERPT_LENGTH ? `${flat.slice(0, EXCERPT_LENGTH - 1)}…` : flat)
}
