/** A JWT's claims, read without verifying it: jose's `decodeJwt` in a few lines (jose's, with its base64url and errors, cost ~480 B of every page and ~340 B of the worker's script). */
const NOT_A_JWT = 'rotor-auth: not a JWT with a claims set'

/**
 * What jose's `decodeJwt` returns for a compact JWS (three parts, a base64url JSON object in the
 * middle), and a throw wherever it throws (test/worker/decode-jwt.test.ts holds the two equal).
 * Every caller catches its throw (an unreadable token is read as opaque), so its errors are plain.
 */
export function decodeJwt(jwt: unknown): Record<string, unknown> {
  const parts = typeof jwt === 'string' ? jwt.split('.') : []
  const payload = parts[1]
  if (parts.length !== 3 || !payload || /[^\w-]/.test(payload)) throw new TypeError(NOT_A_JWT)
  // atob forgives the padding base64url leaves out; a length of 4n+1 is no base64 and throws.
  const bytes = Uint8Array.from(atob(payload.replace(/-/g, '+').replace(/_/g, '/')), c => c.charCodeAt(0))
  const claims: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new TypeError(NOT_A_JWT)
  return claims as Record<string, unknown>
}
