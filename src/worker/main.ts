/** The rotation worker script (`rotor-auth/worker`): loaded as a SharedWorker, it serves the session of every tab that connects. */
import { defaultPlatform } from '../platform/defaults.js'
import { createHub } from './hub.js'

type SharedWorkerScope = {
  name?: string
  addEventListener(type: 'connect', listener: (event: MessageEvent) => void): void
}

const scope = globalThis as unknown as SharedWorkerScope
// One worker per session name: the page names the SharedWorker after its session. One
// platform for the worker's whole life: the hub, its locks and its session all run on it.
const hub = createHub(scope.name || 'rotor-auth', {}, defaultPlatform())
scope.addEventListener('connect', event => {
  for (const port of event.ports) hub.connect(port as never)
})
