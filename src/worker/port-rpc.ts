/** A tab's requests to the rotation worker over its MessagePort: ids, answers, time limits, and one end for all of them when the worker is lost. */
import type { Platform, Timer } from '../platform/types.js'
import type { ClientKit } from './client-kit.js'
import type { ToWorker } from './protocol.js'

/** The tab's end of its MessagePort to the worker. */
export type TabPort = {
  postMessage(message: ToWorker): void
  onmessage: ((event: MessageEvent) => void) | null
  start(): void
  close(): void
}

type Pending = { resolve: () => void; reject: (error: Error) => void }

/**
 * Sends what a tab says to the worker and pairs each request with the worker's `done`. Once
 * the worker is lost (or the tab closed the line), nothing more is sent and every request
 * still waiting, and every later one, fails at once: no caller waits on a dead port.
 */
export class PortRpc {
  readonly #port: TabPort
  readonly #after: Platform['after']
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #lost: string | undefined
  #closed = false
  /** The page's errors (the worker client's kit: client-kit.ts). */
  readonly #kit: Pick<ClientKit, 'SessionExpiredError' | 'WorkerError'>

  constructor(port: TabPort, after: Platform['after'], kit: Pick<ClientKit, 'SessionExpiredError' | 'WorkerError'>) {
    this.#port = port
    this.#after = after
    this.#kit = kit
  }

  /** Why the worker was lost, once it was. */
  get lost(): string | undefined {
    return this.#lost
  }

  get closed(): boolean {
    return this.#closed
  }

  /** A fresh request id (the worker echoes it in its answer). */
  nextId(): number {
    return this.#nextId++
  }

  /** Sends `message` unless the line is down (lost or closed). */
  send(message: ToWorker): void {
    if (this.#lost === undefined && !this.#closed) this.#port.postMessage(message)
  }

  /**
   * Sends the request `make(id)` and resolves on the worker's `done` for that id; rejects when
   * the worker is lost or the line closed meanwhile, or when `limitMs` passes unanswered.
   */
  request(make: (id: number) => ToWorker, limitMs?: number): Promise<void> {
    if (this.#lost !== undefined) return Promise.reject(this.#lostError(this.#lost))
    if (this.#closed) return Promise.reject(new this.#kit.SessionExpiredError('disposed'))
    const id = this.nextId()
    return new Promise((resolve, reject) => {
      let timer: Timer | undefined
      const finish = (error?: Error) => {
        timer?.cancel()
        this.#pending.delete(id)
        if (error) reject(error)
        else resolve()
      }
      this.#pending.set(id, { resolve: () => finish(), reject: finish })
      if (limitMs !== undefined) timer = this.#after(limitMs, () => finish(new this.#kit.WorkerError(`rotor-auth: the rotation worker did not answer within ${limitMs} ms`)))
      this.send(make(id))
    })
  }

  /** Resolves when the worker answers a ping within `limitMs`; rejects (WorkerError) otherwise: a hung worker thread. */
  ping(limitMs: number): Promise<void> {
    return this.request(id => ({ w: 'ping', id }), limitMs)
  }

  /** The worker's `done` for request `id`. */
  answer(id: number): void {
    this.#pending.get(id)?.resolve()
  }

  /** The worker is lost: the port closes and every waiting request fails, saying why. False when the line was already down. */
  lose(reason: string): boolean {
    if (this.#lost !== undefined || this.#closed) return false
    this.#lost = reason
    this.#end(this.#lostError(reason))
    return true
  }

  /** The tab lets go (its session is disposed): `bye`, then every waiting request fails as disposed. */
  close(): void {
    if (this.#lost !== undefined || this.#closed) return
    this.send({ w: 'bye' })
    this.#closed = true
    this.#end(new this.#kit.SessionExpiredError('disposed'))
  }

  #lostError(reason: string): Error {
    return new this.#kit.WorkerError(`rotor-auth: the rotation worker was lost (${reason})`)
  }

  #end(error: Error): void {
    this.#port.close()
    for (const { reject } of [...this.#pending.values()]) reject(error)
  }
}
