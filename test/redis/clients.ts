/**
 * The two ends of the node-redis peer range, as client factories: every Redis test file runs
 * once per entry (`describe.each(CLIENTS)`), and the worker processes load the same major.
 */
import { createClient as createClient6 } from 'redis'
import { createClient as createClient4 } from 'redis4'

/** What the tests call on a client: node-redis 6's type, which 4's client matches for these calls. */
export type TestClient = ReturnType<typeof createClient6>

export type ClientFactory = {
  label: string
  /** The package a worker process imports (test/fixtures/redis-worker.ts). */
  package: 'redis' | 'redis4'
  create(url: string, options?: { reconnectStrategy?: (retries: number) => number }): TestClient
}

export const CLIENTS: ClientFactory[] = [
  { label: 'node-redis 6', package: 'redis', create: (url, options = {}) => createClient6({ url, socket: options }) },
  { label: 'node-redis 4', package: 'redis4', create: (url, options = {}) => createClient4({ url, socket: options }) as unknown as TestClient },
]

/** Closes a client at once, without flushing: 5 and 6 call it destroy(), 4 disconnect(). */
export function drop(client: TestClient): void {
  const c = client as unknown as { destroy?: () => void; disconnect?: () => Promise<void> }
  if (typeof c.destroy === 'function') c.destroy()
  else void c.disconnect?.().catch(() => undefined)
}
