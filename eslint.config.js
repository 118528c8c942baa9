// @ts-check
/**
 * The lint: typescript-eslint's recommended rules on every TypeScript file, plus issue 27's
 * "Done when" for src/ written as rules (no platform globals outside the defaults file, no
 * `new Error(`, files ≤ 350 lines, functions ≤ 80, no import cycle, `#private` not `private`).
 * test/build/structure.test.ts runs it over src/ on every `npm test`.
 */
import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import { builtinRules } from 'eslint/use-at-your-own-risk'
import { createNodeResolver, importX } from 'eslint-plugin-import-x'
import globals from 'globals'
import tseslint from 'typescript-eslint'

/**
 * src/ files that broke a rule below when the lint came in, each with the rules it broke.
 * Those rules are off for that file only, so nothing else slips in meanwhile. Issue 27's
 * refactor, on other branches, fixes them: after merging one, delete the entries it fixed.
 * test/build/structure.test.ts fails on an entry whose file no longer breaks its rule (so the
 * list only shrinks) and on any violation not listed. LINT-PENDING.md says where each one is.
 * @type {Record<string, string[]>}
 */
export const PENDING_REFACTOR = {
  'src/testing/model.ts': ['rotor/prefer-hash-private'],
}

/**
 * src/'s import cycles when the lint came in, each a sorted list of files; all three run
 * through type-only imports, which import-x/no-cycle skips but issue 27 counts.
 * test/build/structure.test.ts finds cycles with a walker of its own and fails on any other,
 * and on one of these that is gone (delete it here).
 */
export const PENDING_CYCLES = []

/** Where the platform's globals come from instead. */
const PLATFORM = 'take it from the Platform (src/platform/types.ts; cfg.platform): only src/platform/defaults.ts names these globals'

/** Each global the platform owns, and what replaces it. */
const PLATFORM_GLOBALS = [
  ['setTimeout', 'platform.after'],
  ['setInterval', 'platform.after'],
  ['clearTimeout', "the Timer's cancel"],
  ['clearInterval', "the Timer's cancel"],
  ['navigator', 'platform.locks / platform.browsing'],
  ['document', 'platform.on / platform.browsing'],
  ['location', 'platform.location()'],
  ['SharedWorker', 'platform.sharedWorker'],
]
/** Static members of globals the platform owns. */
const PLATFORM_MEMBERS = [
  ['Date', 'now', 'platform.now'],
  ['performance', 'now', 'platform.monotonic'],
  ['AbortSignal', 'timeout', 'timeoutSignal (src/utils/abort.ts)'],
]
/** Names through which code reaches a global without naming it bare. */
const GLOBAL_OBJECTS = ['globalThis', 'window', 'self']
const GLOBAL_OBJECT = `/^(${GLOBAL_OBJECTS.join('|')})$/`
/** The globals above, as a cast of globalThis may name them to dodge the rules on bare names. */
const CAST_NAME = `/^(${[...PLATFORM_GLOBALS.map(([name]) => name), 'BroadcastChannel', ...PLATFORM_MEMBERS.map(([object]) => object)].join('|')})$/`
const use = (/** @type {string} */ what) => `Use ${what}: ${PLATFORM}.`

/**
 * Issue 27's checks are ESLint's own no-restricted-globals / -properties / -syntax rules,
 * registered again under names of their own: one `no-restricted-syntax` would carry every
 * selector, and a file could then be exempted only from all of them at once.
 */
const rotor = {
  rules: {
    'no-platform-globals': builtinRules.get('no-restricted-globals'),
    'no-platform-members': builtinRules.get('no-restricted-properties'),
    'no-platform-syntax': builtinRules.get('no-restricted-syntax'),
    'no-new-error': builtinRules.get('no-restricted-syntax'),
    'prefer-hash-private': builtinRules.get('no-restricted-syntax'),
    'worker-label-only': builtinRules.get('no-restricted-syntax'),
  },
}

const platformRules = {
  'rotor/no-platform-globals': ['error', ...PLATFORM_GLOBALS.map(([name, what]) => ({ name, message: use(what) }))],
  'rotor/no-platform-members': [
    'error',
    ...PLATFORM_MEMBERS.map(([object, property, what]) => ({ object, property, message: use(what) })),
    ...GLOBAL_OBJECTS.flatMap(object => [...PLATFORM_GLOBALS, ['BroadcastChannel', 'platform.channel']].map(([property, what]) => ({ object, property, message: use(what) }))),
  ],
  'rotor/no-platform-syntax': [
    'error',
    { selector: "NewExpression[callee.name='BroadcastChannel']", message: use('platform.channel') },
    // globalThis.Date.now(), window.performance.now(), self.AbortSignal.timeout(…)
    ...PLATFORM_MEMBERS.map(([object, property, what]) => ({
      selector: `MemberExpression[property.name='${property}'][object.object.name=${GLOBAL_OBJECT}][object.property.name='${object}']`,
      message: use(what),
    })),
    // (globalThis as { document?: … }).document, (globalThis as unknown as X).navigator
    {
      selector: `MemberExpression[property.name=${CAST_NAME}]:matches([object.expression.name=${GLOBAL_OBJECT}], [object.expression.expression.name=${GLOBAL_OBJECT}])`,
      message: use('the Platform piece'),
    },
    // const g = globalThis as { location?: … }; … g.location: the cast's type names the global.
    {
      selector: `TSAsExpression:has(Identifier[name=${GLOBAL_OBJECT}]) TSPropertySignature[key.name=${CAST_NAME}]`,
      message: use('the Platform piece'),
    },
  ],
}

const SRC = ['src/**/*.ts', 'src/**/*.tsx']

/** The whole lint without the PENDING_REFACTOR exemptions: what test/build/structure.test.ts runs. */
export const unexempted = defineConfig(
  { ignores: ['dist/**', 'coverage/**', 'types/**', '.tmp/**'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A leading underscore names a parameter a signature needs but the body does not use.
      // Prettier formats (npm run format); eslint-config-prettier would turn this one off too: in
      // code without semicolons, Prettier itself guards the lines it could misread.
      'no-unexpected-multiline': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: SRC,
    plugins: { rotor, 'import-x': importX },
    settings: {
      // import-x follows only the files these name: without both, it skips every .ts file and
      // no-cycle finds nothing (test/build/structure.test.ts has a fixture that catches that).
      'import-x/extensions': ['.ts', '.tsx', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      // src/ imports `./x.js` meaning `./x.ts` (TypeScript's ESM convention).
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.js'], extensionAlias: { '.js': ['.ts', '.tsx', '.js'] } })],
    },
    rules: {
      // A lazy chunk (refresh.ts's `import('./refresh-call.js')`) may import its loader back: by the
      // time it loads, the loader has run. Static cycles, type-only ones too, are test/build's check.
      'import-x/no-cycle': ['error', { allowUnsafeDynamicCyclicDependency: true }],
      // A `notInWorker:` label marks a statement that only a page runs: the rotation worker's
      // build drops it (tsup.config.ts's WORKER_DROPS). No break names it, so no-unused-labels
      // would flag every one; no other label may be used.
      'no-unused-labels': 'off',
      'rotor/worker-label-only': [
        'error',
        { selector: "LabeledStatement[label.name!='notInWorker']", message: 'The only label in src/ is `notInWorker:` (tsup.config.ts WORKER_DROPS).' },
      ],
      'rotor/prefer-hash-private': [
        'error',
        ...['PropertyDefinition', 'MethodDefinition', 'TSParameterProperty'].map(node => ({
          selector: `${node}[accessibility='private']`,
          message: "Use a #private member, not TypeScript's `private` (the core's style: private at run time too).",
        })),
      ],
    },
  },
  // src/testing/ is for users' tests: it may use real time and plain errors (issue 27).
  {
    files: SRC,
    ignores: ['src/testing/**'],
    rules: {
      'max-lines': ['error', { max: 350, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: false, skipComments: false }],
      'rotor/no-new-error': [
        'error',
        { selector: "NewExpression[callee.name='Error']", message: 'Throw a RotorError subclass with a code (src/errors.ts; add one to RotorErrorCode if none fits).' },
        { selector: "CallExpression[callee.name='Error']", message: 'Throw a RotorError subclass with a code (src/errors.ts; add one to RotorErrorCode if none fits).' },
      ],
    },
  },
  {
    files: SRC,
    ignores: ['src/testing/**', 'src/platform/defaults.ts'],
    rules: platformRules,
  },
)

export default defineConfig(
  unexempted,
  ...Object.entries(PENDING_REFACTOR).map(([file, rules]) => ({
    files: [file],
    rules: Object.fromEntries(rules.map(rule => [rule, /** @type {const} */ ('off')])),
  })),
)
