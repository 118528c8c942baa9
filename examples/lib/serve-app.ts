/** Serves a browser example (its folder's index.html, style.css and bundled script) on the reference auth server's own origin. */
import { readFile } from 'node:fs/promises'
import { build, type BuildOptions } from 'esbuild'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'

export type ServeAppOptions = {
  /** The example's folder (`new URL('./browser/', import.meta.url)`): index.html, style.css and `entry`. */
  dir: URL
  /** The script to bundle, relative to `dir`. */
  entry: string
  /** esbuild options beyond a browser IIFE bundle (JSX, minify, source maps, defines). */
  esbuild?: BuildOptions
  /** Fills the page's placeholders (the settings the page reads). */
  page(html: string): string
  /** More files to serve, by path (the rotation worker's script). */
  files?: Record<string, { type: string; body: string }>
  /** Token lifetimes, seconds; port on 127.0.0.1 (0: any free one). */
  at: number
  rt: number
  port: number
}

export type ServedApp = { url: string; server: AuthServer; close(): Promise<void> }

/** A browser IIFE bundle of `entry` (a path or file URL). */
export async function bundle(entry: URL, esbuild?: BuildOptions): Promise<string> {
  const result = await build({
    entryPoints: [entry.pathname],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    ...esbuild,
  })
  const out = result.outputFiles?.[0]
  if (!out) throw new Error(`esbuild produced nothing for ${entry.pathname}`)
  return out.text
}

export async function serveApp(options: ServeAppOptions): Promise<ServedApp> {
  const [app, html, css] = await Promise.all([
    bundle(new URL(options.entry, options.dir), options.esbuild),
    readFile(new URL('index.html', options.dir), 'utf8'),
    readFile(new URL('style.css', options.dir), 'utf8'),
  ])
  const page = options.page(html)
  const server = createAuthServer({ accessTokenTtl: options.at * 1000, refreshTokenTtl: options.rt * 1000 })
  const face = await server.listen({
    port: options.port,
    static: {
      '/': { type: 'text/html', body: page },
      '/index.html': { type: 'text/html', body: page },
      '/app.js': { type: 'text/javascript', body: app },
      '/style.css': { type: 'text/css', body: css },
      ...options.files,
    },
  })
  return { url: `${face.origin}/`, server, close: face.close }
}
