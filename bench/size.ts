/**
 * Scenario 4 — bundle size: what each library adds to a browser app, bundled by esbuild
 * (minified ESM for the browser) and gzipped at level 9, all measured in this run.
 */
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BROWSER_BUILD, kb, measure, measureChunks, ROOT, type BundleInput, type Measured } from './lib/bundle.js'
import { writeDocs } from './performance-doc.js'
import type { Cell, Section } from './table.js'

type Entry = { name: string; packages: string[]; input: BundleInput; fullFeatured: boolean }

/** What an app imports to use a client: its main class (or factory), as Rotor's entry is `createSession`. */
const main = (pkg: string, name: string): BundleInput => ({ source: `export { ${name} } from '${pkg}'` })

const ENTRIES: Entry[] = [
  { name: 'oidc-client-ts: `UserManager`', packages: ['oidc-client-ts'], input: main('oidc-client-ts', 'UserManager'), fullFeatured: true },
  { name: '@supabase/auth-js: `AuthClient`', packages: ['@supabase/auth-js'], input: main('@supabase/auth-js', 'AuthClient'), fullFeatured: true },
  { name: '@okta/okta-auth-js: `OktaAuth`', packages: ['@okta/okta-auth-js'], input: main('@okta/okta-auth-js', 'OktaAuth'), fullFeatured: true },
  { name: '@auth0/auth0-spa-js: `Auth0Client`', packages: ['@auth0/auth0-spa-js'], input: main('@auth0/auth0-spa-js', 'Auth0Client'), fullFeatured: true },
  {
    name: '@azure/msal-browser: `PublicClientApplication`',
    packages: ['@azure/msal-browser'],
    input: main('@azure/msal-browser', 'PublicClientApplication'),
    fullFeatured: true,
  },
  {
    name: 'axios-auth-refresh + axios',
    packages: ['axios-auth-refresh', 'axios'],
    input: { source: "export { default as axios } from 'axios'; export { default as createAuthRefreshInterceptor } from 'axios-auth-refresh'" },
    fullFeatured: false,
  },
  {
    name: 'axios-auth-refresh alone (axios external)',
    packages: ['axios-auth-refresh'],
    input: { source: "export { default } from 'axios-auth-refresh'", external: ['axios'] },
    fullFeatured: false,
  },
]

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

/** Minified bytes each input contributes to Rotor's all-in bundle (esbuild metafile). */
async function composition(): Promise<Array<[string, number]>> {
  const result = await build({ entryPoints: ['src/index.ts'], ...BROWSER_BUILD, metafile: true })
  const output = Object.values(result.metafile.outputs)[0]!
  const by = new Map<string, number>()
  for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
    const key = file.includes('node_modules/') ? file.split('node_modules/')[1]!.split('/')[0]! : file
    by.set(key, (by.get(key) ?? 0) + bytesInOutput)
  }
  return [...by].filter(([, bytes]) => bytes > 0).sort((a, b) => b[1] - a[1])
}

const add = (a: Measured, b: Measured): Measured => ({ minified: a.minified + b.minified, gzipped: a.gzipped + b.gzipped })

/**
 * Rotor as a bundler with code splitting ships `createSession` (src/index.ts exports little
 * else): the main chunk, the refresh call every page loads in the background, and the leader
 * election chunk loaded only where tabs have no Web Locks.
 */
async function rotorRows(): Promise<Array<{ entry: Entry; size: Measured }>> {
  const { main, lazy } = await measureChunks('src/index.ts')
  const chunk = (source: string) => lazy.find(c => c.inputs.includes(source))?.size ?? { minified: 0, gzipped: 0 }
  const refresh = chunk('src/core/refresh-call.ts')
  const election = chunk('src/coordinator/leader-lock.ts')
  const rotor = (name: string, size: Measured) => ({ entry: { name, packages: ['jose'], input: { entry: 'src/index.ts' }, fullFeatured: false }, size })
  return [
    rotor('Rotor `createSession`: main chunk + refresh-call chunk (every page; docs/performance.md)', add(main, refresh)),
    rotor('Rotor: main chunk alone (before createSession runs)', main),
    rotor('Rotor: all chunks, election included (pages without Web Locks)', add(add(main, refresh), election)),
  ]
}

export async function runSize(): Promise<Section> {
  // Every chunk, what each is made of, and the budgets' verdicts (bench/performance-doc.ts); the README's size table.
  const report = await writeDocs()
  const results: Array<{ entry: Entry; size?: Measured; error?: string }> = await rotorRows()
  for (const entry of ENTRIES) {
    try {
      results.push({ entry, size: await measure(entry.input) })
    } catch (error) {
      const message = (error as { errors?: Array<{ text: string }> }).errors?.[0]?.text ?? String(error)
      results.push({ entry, error: message.split('\n')[0]!.slice(0, 120) })
    }
  }
  const rotor = results[0]!.size
  const rows: Cell[][] = results.map(({ entry, size, error }) => [
    entry.name,
    entry.packages.map(p => `${p}@${version(p)}`).join(', ') || '—',
    size ? kb(size.minified) : `failed: ${error}`,
    size ? kb(size.gzipped) : '—',
    size && rotor ? `${(size.gzipped / rotor.gzipped).toFixed(2)}×` : '—',
  ])

  const verdicts: string[] = []
  if (rotor) {
    verdicts.push(`Rotor, what every page downloads (main + refresh-call chunks): ${kb(rotor.gzipped)} KB min+gzip.`)
    const peers = results.filter(r => r.entry.fullFeatured)
    const larger = peers.filter(r => r.size && r.size.gzipped > rotor.gzipped)
    const failed = peers.filter(r => !r.size)
    verdicts.push(
      `Smaller than every full-featured peer: ${larger.length === peers.length ? 'met' : 'MISSED'} ` +
        `(${larger.length} of ${peers.length} measured larger${failed.length ? `; not measured: ${failed.map(f => f.entry.name).join(', ')}` : ''}; ` +
        `the smallest, ${[...larger].sort((a, b) => a.size!.gzipped - b.size!.gzipped)[0]?.entry.name ?? '—'}, is ` +
        `${larger.length ? (Math.min(...larger.map(l => l.size!.gzipped)) / rotor.gzipped).toFixed(1) : '—'}× Rotor).`,
    )
  } else {
    verdicts.push(`Rotor's bundle failed to build: ${results[0]!.error}`)
  }
  // The worker's script, built as tsup ships it (one classic file): the second byte budget of issue 32.
  const { worker } = report
  verdicts.push(`Rotor's rotation worker script (rotor-auth/worker, one file, DPoP included): ${kb(worker.size.gzipped)} KB min+gzip.`)
  const parts = await composition().catch(() => [])
  const total = parts.reduce((n, [, b]) => n + b, 0)
  const notes = parts.length
    ? [
        "What Rotor's all-in bundle is made of (minified bytes before gzip, from esbuild's metafile):",
        '',
        ...parts.map(([name, bytes]) => `- ${name}: ${kb(bytes)} KB (${((100 * bytes) / total).toFixed(0)} %)`),
      ]
    : []
  return {
    title: 'Bundle size',
    notes,
    method:
      "esbuild `build({ bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022' })`, " +
      "`process.env.NODE_ENV` = 'production', then zlib gzip level 9. Each library as an app imports it: its main class " +
      "(`export { UserManager } from 'oidc-client-ts'`, …), tree-shaken like Rotor's `createSession`. " +
      '1 KB = 1,000 bytes. axios-auth-refresh is a plugin, not a session library: it needs axios, and has no cross-tab or ' +
      'rotation logic of its own.',
    table: { columns: ['bundle', 'packages', 'min (KB)', 'min+gzip (KB)', 'vs Rotor'], rows },
    verdicts,
  }
}
