import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  // Dependencies and peers stay external (tsup's default). jose and ky are ESM-only, so the
  // CJS build relies on Node >= 20.19's require(esm); hence `engines.node`.
  // The testing entry's cookie jar loads these lazily; they are optional peers.
  external: ['msw', 'msw/node', 'fetch-cookie', 'tough-cookie'],
})
