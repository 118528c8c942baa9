/** The tabs connected to the rotation worker: their ports, what each said about itself, and finding one that is still there to run the app's reauthenticate. */
import type { Grant } from '../types.js'
import type { Platform, Timer } from '../platform/types.js'
import { every } from '../utils/every.js'
import type { TabLocks } from './hub-lock.js'
import type { FromWorker, ReauthGrant } from './protocol.js'

/** The worker's end of a tab's MessagePort. */
export type PortLike = {
  postMessage(message: FromWorker): void
  start?(): void
  close(): void
  onmessage: ((event: MessageEvent) => void) | null
}

export type Tab = {
  port: PortLike
  id: string
  reauthenticates: boolean
  /** When this tab last said anything (ms, the worker's clock). */
  heard: number
  /** The tab said it runs a `reauthenticate` of its own (every tab stops its queueTimeout meanwhile). */
  reauthenticating: boolean
  locks: TabLocks
  /** `reauthenticate` requests sent to this tab: id → answer (`gone`: the tab left first). */
  reauths: Map<number, (answer: ReauthGrant | undefined | 'gone') => void>
}

export type LivenessLimits = {
  /** A tab asked to re-authenticate that has said nothing for this long is gone (crashed, discarded, frozen): the next one is asked. */
  silentMs: number
  /** How often the hub asks such a tab whether it is still there. */
  probeEveryMs: number
}

/**
 * The connected tabs, in the order they said hello. Any page of the origin can connect and
 * say anything: what one tab costs the others is bounded here (see docs/security.md).
 */
export class Tabs {
  readonly #tabs = new Set<Tab>()
  readonly #limits: LivenessLimits
  /** `now`: the hub's clock of spans (monotonic where there is one: a tab's silence is never a clock set forward). */
  readonly #platform: Pick<Platform, 'now' | 'after'>
  /** A tab left: what it held is let go, and its `reauthenticating` flag is withdrawn. */
  readonly #left: (tab: Tab) => void
  #nextRequest = 1

  constructor(o: { limits: LivenessLimits; platform: Pick<Platform, 'now' | 'after'>; left: (tab: Tab) => void }) {
    this.#limits = o.limits
    this.#platform = o.platform
    this.#left = o.left
  }

  get size(): number {
    return this.#tabs.size
  }

  [Symbol.iterator](): IterableIterator<Tab> {
    return this.#tabs.values()
  }

  has(tab: Tab): boolean {
    return this.#tabs.has(tab)
  }

  add(tab: Tab): void {
    this.#tabs.add(tab)
  }

  /** A fresh id for a tab or a request to one. */
  nextId(): number {
    return this.#nextRequest++
  }

  /** The tab is gone (it said `bye`, or stopped answering): its port closes, its locks and pending answers go. */
  drop(tab: Tab): void {
    if (!this.#tabs.delete(tab)) return
    tab.locks.releaseAll()
    for (const answer of [...tab.reauths.values()]) answer('gone')
    this.#left(tab)
    tab.port.close()
  }

  /**
   * The worker session's `reauthenticate`: the newest tab that has the app's hook runs it. A
   * tab that goes away meanwhile hands the job to the next one; with none left, the session ends.
   */
  reauthenticate({ signal }: { signal: AbortSignal }): Promise<Grant | undefined> {
    return new Promise(resolve => {
      let watching: Timer | undefined
      const finish = (grant: Grant | undefined) => {
        watching?.cancel()
        resolve(grant)
      }
      const ask = (): void => {
        watching?.cancel()
        const tab = [...this.#tabs].reverse().find(t => t.reauthenticates)
        if (!tab || signal.aborted) return finish(undefined)
        const id = this.nextId()
        tab.reauths.set(id, answer => {
          tab.reauths.delete(id)
          if (answer === 'gone') ask()
          else finish(answer)
        })
        tab.heard = this.#platform.now()
        tab.port.postMessage({ w: 'reauthenticate', id })
        watching = this.#watch(tab)
      }
      // Aborted (the session ended, or another login came, while the form was open): the session
      // goes on without waiting, but the tab's late answer still resolves this, so that the login
      // it made is revoked (relogin.ts); dropped, it stayed live at the server (sim seed 103517).
      // The tab is no longer probed; one that goes answers `gone`, and nothing is asked again.
      signal.addEventListener('abort', () => watching?.cancel(), { once: true })
      ask()
    })
  }

  /**
   * A tab that crashed, was discarded or sits in the back/forward cache never answers nor says
   * `bye`: waiting for it would hold every tab's requests. A live tab answers the probe even
   * while its login form is open; a silent one is dropped (its pending answer becomes `gone`).
   */
  #watch(tab: Tab): Timer {
    const { silentMs, probeEveryMs } = this.#limits
    return every(this.#platform.after, probeEveryMs, () => {
      if (this.#platform.now() - tab.heard > silentMs) this.drop(tab)
      else tab.port.postMessage({ w: 'probe', id: this.nextId() })
    })
  }
}
