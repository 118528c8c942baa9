/** A coordinator that arrives later and may be replaced by another: calls made before it arrives wait for it, and listeners move with each replacement. */
import { Listeners } from '../utils/listeners.js'
import { plausible, supersedes } from './protocol.js'
import type { Coordinator, Lease, LockOptions, Message, OutgoingMessage, Snapshot } from './types.js'

/**
 * The session's coordinator while the one it will use is still being set up (the rotation
 * worker connecting) or may give way to another (the worker lost: the page's own takes over).
 * `use(next)` installs the current one; every call goes to whichever is current when it runs,
 * so nothing the session holds (its listeners, a tab waiting for a lock) is lost on the way.
 */
export class ReplaceableCoordinator implements Coordinator {
  readonly #listeners = new Listeners<Message>()
  readonly #ready: Promise<Coordinator>
  #arrive: (coordinator: Coordinator) => void = () => undefined
  #current: Coordinator | undefined
  #unsubscribe: () => void = () => undefined
  #closed = false
  #newest: Snapshot | undefined
  #holding: Snapshot | undefined
  readonly #onClose: Array<() => void> = []

  constructor() {
    this.#ready = new Promise(resolve => (this.#arrive = resolve))
  }

  /** The session let go: a coordinator that arrives now is closed at once. */
  get closed(): boolean {
    return this.#closed
  }

  /** Makes `next` the current coordinator: the session's listeners move to it, the previous one is closed. */
  use(next: Coordinator): this {
    this.#unsubscribe()
    const previous = this.#current
    this.#current = next
    this.#unsubscribe = next.subscribe(message => this.tell(message))
    // What this member holds, told to the new one too (the page's own after a fallback names it in its presence).
    if (this.#holding) next.holding?.(this.#holding)
    if (previous !== next) previous?.close()
    if (this.#closed) next.close()
    this.#arrive(next)
    return this
  }

  /** Runs `fn` on the current coordinator, or on the first one once it arrives. */
  #later<T>(fn: (c: Coordinator) => T): T | Promise<Awaited<T>> {
    return this.#current ? fn(this.#current) : (this.#ready.then(() => fn(this.#current!)) as Promise<Awaited<T>>)
  }

  read(): ReturnType<Coordinator['read']> {
    // What the session reads counts as heard: a tab that joined the worker's state by reading it
    // (a reload) fell back with nothing to bring a new run, which then never took its AT and
    // left the tab's rotations unanswered (sim seed 100913).
    return this.#later(c => {
      const read = c.read()
      return read instanceof Promise ? read.then(s => (s && this.#heard(s), s)) : (read && this.#heard(read), read)
    })
  }

  write(snapshot: Snapshot): ReturnType<Coordinator['write']> {
    this.#heard(snapshot)
    // A coordinator lost while the write was on its way (the worker): the next one gets it.
    return this.#later(c => {
      const written = c.write(snapshot)
      return written instanceof Promise ? written.catch((error: unknown) => (this.#current !== c ? this.write(snapshot) : Promise.reject(error))) : written
    })
  }

  lock<T>(fn: (lease?: Lease) => Promise<T>, options?: LockOptions): Promise<T> {
    return this.#later(c => c.lock(fn, options)) as Promise<T>
  }

  /** The newest state the session wrote or heard of (with its tokens): what a rejoined coordinator must learn if it is behind. */
  get newest(): Snapshot | undefined {
    return this.#newest
  }

  /** Tells the session's listeners `message`, as if the current coordinator had. */
  tell(message: Message): void {
    if (message.type === 'state') this.#heard(message.snapshot)
    this.#listeners.emit(message)
  }

  /**
   * How a newer state heard becomes `newest`: as it is, unless the worker's link (loaded with it)
   * says otherwise (reconcile.ts `keepTokens`: the same grant numbered anew keeps this tab's tokens).
   */
  keep: (heard: Snapshot, held: Snapshot | undefined) => Snapshot = heard => heard

  /** A forged leap (not plausible) is no news: sessions refuse it, and a rejoin must not carry it to the worker (sim seed 101740). */
  #heard(snapshot: Snapshot): void {
    const held = this.#newest
    if (!plausible(snapshot, held) || (held && !supersedes(snapshot, held))) return
    this.#newest = this.keep(snapshot, held)
  }

  post(message: OutgoingMessage): void {
    void this.#later(c => c.post(message))
  }

  subscribe(listener: (message: Message) => void): () => void {
    return this.#listeners.add(listener)
  }

  /**
   * The current coordinator's answer (the worker's, then the page's own after a fallback);
   * absent means 'store' (the Coordinator contract), which is also the worker's answer.
   */
  get sharesTokens(): 'store' | 'message' {
    return this.#current?.sharesTokens ?? 'store'
  }

  isLeader(): boolean {
    return this.#current?.isLeader() ?? false
  }

  hasPeers(): boolean {
    return this.#current?.hasPeers() ?? true
  }

  livePeers(): Promise<readonly string[]> | undefined {
    return this.#current?.livePeers?.()
  }

  peersAhead(mine: Snapshot): Promise<boolean> | undefined {
    return this.#current?.peersAhead?.(mine)
  }

  holding(snapshot: Snapshot): void {
    this.#holding = snapshot
    this.#current?.holding?.(snapshot)
  }

  logout(held?: Snapshot): Promise<void> | undefined {
    return this.#current?.logout?.(held)
  }

  close(): void {
    this.#closed = true
    this.#current?.close()
    for (const closed of this.#onClose.splice(0)) closed()
  }

  /** Runs `fn` when the session closes this coordinator (a timer of whoever replaces its coordinators is released then). */
  onClose(fn: () => void): void {
    if (this.#closed) fn()
    else this.#onClose.push(fn)
  }
}
