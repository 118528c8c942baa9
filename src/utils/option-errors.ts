/** The TypeErrors every entry throws for bad options: one wording, naming the option, with a "did you mean" for typos. */
import { RotorTypeError } from '../errors.js'

/** Marks a non-finite number inside JSON, so it prints as `Infinity` rather than JSON's `null`. */
const NON_FINITE = '@@rotor-auth-value:'

/**
 * How a bad value is shown in a message: short, never throwing (BigInt, circular objects), and
 * as the user wrote it: `Infinity`, `NaN` and `undefined` (a missing value) print as such,
 * never as JSON's `null` or an empty string.
 */
export function shown(got: unknown): string {
  try {
    if (got === undefined) return 'undefined'
    if (typeof got === 'function') return 'a function'
    if (typeof got === 'number' || typeof got === 'bigint' || typeof got === 'symbol') return String(got)
    if (got instanceof Uint8Array) return `${got.length} bytes`
    const json = JSON.stringify(got, (_key, value: unknown) => {
      if (typeof value === 'number' && !Number.isFinite(value)) return NON_FINITE + String(value)
      if (value === undefined) return NON_FINITE + 'undefined'
      return value
    })
    if (json === undefined) return String(got)
    const text = json.replace(new RegExp(`"${NON_FINITE}([^"]*)"`, 'g'), '$1')
    return text.length > 120 ? `${text.slice(0, 117)}...` : text
  } catch {
    return typeof got
  }
}

/** A TypeError (code `ERR_INVALID_OPTION`) for an option given a bad value. `prefix`: the entry that speaks (`rotor-auth`, `rotor-auth/socket`…). */
export function optionError(prefix: string, option: string, expected: string, got: unknown): TypeError {
  return new RotorTypeError('ERR_INVALID_OPTION', `${prefix}: option \`${option}\` must be ${expected}, got ${shown(got)}`)
}

/** A TypeError (code `ERR_INVALID_OPTION`) with a message of its own, for a bad combination of options. */
export function invalidOption(message: string): TypeError {
  return new RotorTypeError('ERR_INVALID_OPTION', message)
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    row = next
  }
  return row[b.length]!
}

/** The known name nearest to `name` (at most two edits away, case aside), if any. */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let score = 3
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase())
    if (d < score) [best, score] = [candidate, d]
  }
  return best
}

/**
 * Throws for the first key of `options` that is not in `known`: a misspelt option would
 * silently do nothing. `path` names where `options` sits (`'idle'`, `'config.rtr'`), so a
 * nested typo reads `idle.timout` (did you mean `idle.timeout`?).
 */
export function assertKnownOptions(prefix: string, known: ReadonlySet<string>, options: object, path?: string): void {
  const at = path ? `${path}.` : ''
  for (const name of Object.keys(options)) {
    if (known.has(name)) continue
    const hint = closest(name, known)
    throw new RotorTypeError('ERR_INVALID_OPTION', `${prefix}: unknown option \`${at}${name}\`${hint ? ` (did you mean \`${at}${hint}\`?)` : ''}`)
  }
}
