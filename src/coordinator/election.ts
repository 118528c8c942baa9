/** Leadership among tabs without Web Locks: joining, leaving and rejoining the election, stepping down before the page freezes or goes. */
import { BroadcastChannel as PackageChannel, createLeaderElection } from 'broadcast-channel'
import type { ElectionRoom, OpenRoom, Platform, RoomEvents } from '../platform/types.js'
import type { sleep } from '../utils/until.js'

/** How often a follower polls for leadership while the leader is gone (the package's own cycle). */
const ELECTION_FALLBACK_MS = 1000
/** Two leaders that found each other rejoin after a random pause up to this long, so they do not meet again in step. */
const REJOIN_JITTER_MS = 300

export type { ElectionRoom, OpenRoom, RoomEvents }

/**
 * The broadcast-channel package's election (its wire protocol is what tabs of older builds
 * speak too): `native` rides the platform's BroadcastChannel, `simulate` stays in memory (tests).
 * A leader that is closed says so (`death`); a silent one is replaced by the fallback cycle.
 */
export function packageRoom(method: 'native' | 'simulate' = 'native'): OpenRoom {
  return (name, events) => {
    const channel = new PackageChannel<unknown>(name, { type: method })
    channel.addEventListener('message', events.message)
    const elector = createLeaderElection(channel, { fallbackInterval: ELECTION_FALLBACK_MS })
    elector.onduplicate = events.duplicate
    return {
      post: message => channel.postMessage(message).catch(() => undefined),
      get isLeader() {
        return elector.isLeader
      },
      awaitLeadership: () =>
        elector.awaitLeadership().then(
          () => undefined,
          () => undefined,
        ),
      close: () => channel.close().catch(() => undefined),
    }
  }
}

export type ElectionOptions = {
  /** The room's name: a channel of its own, since the package throws on foreign posts. */
  name: string
  platform: Pick<Platform, 'after' | 'random' | 'on'>
  /** The page's sleep (utils/until.ts's), handed over with leader-lock.ts's kit. */
  sleep: typeof sleep
  open: OpenRoom
  /** Every message another member posts (the claims ride the election's channel). */
  hear(data: unknown): void
  /** This member was elected. */
  elected(): void
  /** This member holds the rotation lock: it finishes before it steps down on a duplicate. */
  holding(): boolean
  /** What to post on the way out (a holder's release; `withdraw`, leaving the page: a claimant's too), if anything. */
  farewell(withdraw: boolean): unknown
}

/**
 * Only the leader ever refreshes. A frozen tab (Page Lifecycle) cannot answer, so it leaves
 * before it freezes, unless it holds the lock: its claim stays counted by the others until its
 * release or the claim's silence limit. During a hand-over (a thawed tab that still believes
 * it leads) two may lead for a moment: the package reports the duplicate and both step down
 * and rejoin, while the claims keep the rotation exclusive.
 */
export class Election {
  readonly #o: ElectionOptions
  readonly #undo: Array<() => void>
  #room: ElectionRoom | undefined
  #closed = false
  #frozen = false
  /** A duplicate leader was reported while this member held: it steps down once it releases. */
  #stepDown = false

  constructor(options: ElectionOptions) {
    this.#o = options
    const { on } = options.platform
    this.#undo = [
      on('freeze', () => {
        this.#frozen = true
        if (!options.holding()) void this.#leave()
      }),
      on('resume', () => {
        this.#frozen = false
        if (!this.#room) this.#join()
      }),
      on('pagehide', () => void this.#leave()),
      // Back from the back/forward cache: where no 'resume' fires first (Firefox, Safari), it rejoins here.
      on('pageshow', () => void (this.#frozen || this.#room || this.#join())),
    ]
    this.#join()
  }

  isLeader(): boolean {
    return !this.#closed && !this.#frozen && this.#room?.isLeader === true
  }

  /** Posts on the room; false between rooms, where it is a no-op: nobody is listening to this member then. */
  post(message: unknown): Promise<boolean> {
    return this.#room ? this.#room.post(message).then(() => true) : Promise.resolve(false)
  }

  /** The lock was released: a tab that froze meanwhile leaves now, a reported duplicate steps down. */
  released(): void {
    if (this.#frozen) void this.#leave()
    else if (this.#stepDown) {
      this.#stepDown = false
      this.#rejoin()
    }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const undo of this.#undo) undo()
    void this.#leave()
  }

  #join(): void {
    if (this.#closed) return
    const room = this.#o.open(this.#o.name, {
      message: data => this.#o.hear(data),
      // Any page can post the `tell` that reports a duplicate: a holder finishes first, since
      // leaving would release its claim mid-refresh.
      duplicate: () => {
        if (this.#o.holding()) this.#stepDown = true
        else this.#rejoin()
      },
    })
    this.#room = room
    void room.awaitLeadership().then(() => this.#room === room && this.#o.elected())
  }

  #rejoin(): void {
    const { after, random } = this.#o.platform
    void this.#leave(false)
      .then(() => this.#o.sleep(after, random() * REJOIN_JITTER_MS))
      .then(() => this.#frozen || this.#closed || this.#room || this.#join())
  }

  /** Out of the room: closing, freezing or leaving the page (`withdraw`: a claim in its window goes too), or rejoining (it stays). */
  async #leave(withdraw = true): Promise<void> {
    const room = this.#room
    this.#room = undefined
    if (!room) return
    // Leaving while holding (or, unless rejoining, while claiming): the others must not wait on us.
    const farewell = this.#o.farewell(withdraw)
    if (farewell !== undefined) await room.post(farewell)
    await room.close()
  }
}
