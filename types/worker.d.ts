/**
 * `rotor-auth/worker` is the rotation worker's script, loaded by URL in a browser's SharedWorker
 * (the session's `worker` option: `new URL('rotor-auth/worker', import.meta.url)`, Vite's
 * `rotor-auth/worker?url`, or `npx rotor-auth init <public dir>`). It exports nothing; imported
 * in Node it throws. These types exist so that every TypeScript resolution finds the entry.
 */
export {}
