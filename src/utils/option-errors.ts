/** The TypeErrors every entry throws for bad options: one wording, naming the option, with a "did you mean" for typos. */

/** How a bad value is shown in the message: short, and never throwing (BigInt, circular objects). */
function shown(got: unknown): string {
  try {
    if (typeof got === 'function') return 'a function'
    if (got instanceof Uint8Array) return `${got.length} bytes`
    return JSON.stringify(got) ?? String(got)
  } catch {
    return typeof got
  }
}

/** `prefix`: the entry that speaks (`rotor-auth`, `rotor-auth/socket`…). */
export function optionError(prefix: string, option: string, expected: string, got: unknown): TypeError {
  return new TypeError(`${prefix}: option \`${option}\` must be ${expected}, got ${shown(got)}`)
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

/** The known option nearest to `name` (at most two edits away, case aside), if any. */
function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let score = 3
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase())
    if (d < score) [best, score] = [candidate, d]
  }
  return best
}

/** Throws for the first key of `options` that is not in `known`: a misspelt option would silently do nothing. */
export function assertKnownOptions(prefix: string, known: ReadonlySet<string>, options: object): void {
  for (const name of Object.keys(options)) {
    if (known.has(name)) continue
    const hint = closest(name, known)
    throw new TypeError(`${prefix}: unknown option \`${name}\`${hint ? ` (did you mean \`${hint}\`?)` : ''}`)
  }
}
