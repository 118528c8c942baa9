/**
 * `npm run docs:reference`: writes docs/reference/ from the JSDoc in src/ (one page per part of
 * the API); test/docs/reference.test.ts regenerates it in memory and fails when it differs.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { coordinatorPage } from './reference/coordinator.js'
import { entryPages } from './reference/entries.js'
import { errorsPage } from './reference/errors.js'
import { banner, page } from './reference/markdown.js'
import { optionsPage } from './reference/options.js'
import { eventsPage, sessionPage } from './reference/session.js'
import { Source } from './reference/source.js'

/** The repository's root (this file is in scripts/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Where the pages go, relative to the root. */
export const REFERENCE_DIR = 'docs/reference'

/** Every page of the reference: file name → Markdown. */
export function generateReference(root = ROOT): Map<string, string> {
  const src = new Source(root)
  const pages = new Map<string, string>([
    ['options.md', optionsPage(src)],
    ['session.md', sessionPage(src)],
    ['events.md', eventsPage(src)],
    ['errors.md', errorsPage(src)],
    ['coordinator.md', coordinatorPage(src)],
    ...entryPages(src),
  ])
  return new Map([['README.md', indexPage(pages)], ...pages])
}

/** docs/reference/README.md: each page, with its title. */
function indexPage(pages: Map<string, string>): string {
  const lines = [...pages].map(([file, text]) => `- [${/^# (.*)$/m.exec(text)?.[1] ?? file}](${file})`)
  return page([
    ...banner(
      'Reference',
      'Generated from the JSDoc in `src/`: the option, method, event, error and export you look up, one heading each. The guides explain how they fit together.',
    ),
    ...lines,
    '',
    '## For contributors',
    '',
    'These pages are written by `npm run docs:reference` from the JSDoc in `src/` (scripts/reference.ts): change the comment, then run it. `test/docs/reference.test.ts` fails when a page is stale, when something public has no JSDoc, and when a public option, session method, event, error class or error code has no heading here.',
    '',
    "Every `ts`, `tsx`, `js` and `jsx` code block of README.md, CONTRIBUTING.md and docs/ typechecks in `npm test` (`test/docs/readme-code.test.ts`, against `src/`). A block that cannot compile on its own (a fragment) is marked, sparingly: `ts nocheck` as its fence's language, or the line `<!-- typecheck: skip (why) -->` right before the fence.",
  ])
}

function main(): void {
  const dir = join(ROOT, REFERENCE_DIR)
  mkdirSync(dir, { recursive: true })
  const pages = generateReference()
  // A page the generator no longer makes must not linger as if it were current.
  for (const file of readdirSync(dir)) if (file.endsWith('.md') && !pages.has(file)) rmSync(join(dir, file))
  for (const [file, text] of pages) writeFileSync(join(dir, file), text)
  console.log(`${REFERENCE_DIR}: ${[...pages.keys()].join(', ')}`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main()
