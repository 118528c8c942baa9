import { defineConfig, type Options } from 'tsup'

const shared: Options = {
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts', 'redis/index': 'src/redis/index.ts' },
  dts: true,
  sourcemap: true,
  target: 'es2022',
  // The testing entry's cookie jar loads these lazily; they are optional peers. The redis
  // entry imports `redis` as types only (the caller passes a client); kept external should
  // that ever change, so the optional peer is never bundled.
  external: ['msw', 'msw/node', 'fetch-cookie', 'tough-cookie', 'redis'],
}

export default defineConfig([
  // ESM: dependencies stay external (a user's bundler dedupes them); the refresh call is a
  // chunk of its own, loaded on demand.
  { ...shared, format: ['esm'], clean: true },
  // CJS: jose and ky are ESM-only. Kept external, `require(esm)` hands back their namespace,
  // and the interop reads its `default` as the namespace again (ky.default.post is not a
  // function: the CJS build could never refresh). Bundled in, they just work.
  { ...shared, format: ['cjs'], noExternal: ['jose', 'ky'] },
])
