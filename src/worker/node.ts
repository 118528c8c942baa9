/** What `rotor-auth/worker` resolves to in Node: the worker is a script a browser loads by URL, so importing it here fails, saying what to do instead. */
import { RotorTypeError } from '../errors.js'

throw new RotorTypeError(
  'ERR_USAGE',
  "rotor-auth/worker is the rotation worker's script for a browser's SharedWorker, loaded by URL; it does not run in Node. " +
    "In the browser, pass its URL as the session's `worker` option (`npx rotor-auth init <public dir>` copies it; " +
    "webpack: new URL('rotor-auth/worker', import.meta.url); Vite: import workerUrl from 'rotor-auth/worker?url'). " +
    'Node processes that share one session use a coordinator instead (rotor-auth/redis).',
)

// A module, so that its (empty) types can describe the entry for TypeScript.
export {}
