/** How the reference writes Markdown: headings a test can find, JSDoc prose, one-line code and examples. */

/** The header every generated page opens with: where it comes from, and how to make it again. */
export function banner(title: string, intro: string): string[] {
  return [
    `# ${title}`,
    '',
    '<!-- Generated from the JSDoc in src/ by `npm run docs:reference`; do not edit (test/docs/reference.test.ts fails when it is stale). -->',
    '',
    intro,
    '',
  ]
}

/** A heading whose text is one code span, e.g. "## `refresh.url`" (the anchor GitHub gives it is `#refreshurl`). */
export function heading(level: number, name: string): string {
  return `${'#'.repeat(level)} \`${name}\``
}

/** Inline code that survives a backtick inside (Markdown's double-backtick form). */
export function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``
}

/** JSDoc prose as Markdown: `{@link X}` becomes code, and nothing is left empty. */
export function prose(text: string, fallback = ''): string {
  const out = text.replace(/\{@link\s+([^}\s|]+)[^}]*\}/g, '`$1`').trim()
  return out || fallback
}

/**
 * An `@example` as a line: its code as a code span, a trailing `// comment` (two spaces or more
 * before it) as prose after a dash. Prefixed with `key: ` for options, so it reads as written.
 */
export function exampleLine(example: string | undefined, key?: string): string[] {
  if (!example) return []
  const lines = example.split('\n')
  if (lines.length > 1) return ['Example:', '', '```ts nocheck', ...lines, '```', '']
  const [, body = example, comment] = /^(.*?)(?:\s{2,}\/\/\s*(.*))?$/.exec(example) ?? []
  const shown = key === undefined ? body.trim() : `${key}: ${body.trim()}`
  return [`Example: ${code(shown)}${comment ? ` — ${comment}` : ''}`, '']
}

/**
 * A session option's `@example` as a call a reader can paste, in a ```ts block that
 * test/docs/readme-code.test.ts typechecks against the option's type: an example that drifts
 * from its option fails there. A trailing `// comment` stays a comment.
 */
export function optionExample(example: string | undefined, key: string): string[] {
  if (!example) return []
  if (example.includes('\n')) return exampleLine(example, key)
  const [, body = example, comment] = /^(.*?)(?:\s{2,}\/\/\s*(.*))?$/.exec(example) ?? []
  const scope = key === 'scope' ? '' : "scope: 'https://api.example.org', "
  return ['```ts', `createSession({ ${scope}${key}: ${body.trim()} })${comment ? ` // ${comment}` : ''}`, '```', '']
}

/** A line of facts under a heading: type, whether required, the default. */
export function facts(parts: Array<string | undefined>): string[] {
  const shown = parts.filter((p): p is string => !!p)
  return shown.length ? [shown.join(' · '), ''] : []
}

/** Lines joined into a page, with one trailing newline and no runs of blank lines. */
export function page(lines: string[]): string {
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`
}
