/** What kind of runtime this is: a browsing context (a page or a worker) or not (Node). */

/** A page or a worker: other tabs of the origin may share a session with this one. */
export function browsingContext(): boolean {
  const g = globalThis as { document?: unknown; WorkerGlobalScope?: unknown }
  return g.document !== undefined || g.WorkerGlobalScope !== undefined
}
