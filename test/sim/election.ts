/** The leader election of tabs without Web Locks, on the simulated origin: one leader per room at a time, its messages on the origin's channels. */
import type { ElectionRoom, OpenRoom } from '../../src/platform/types.js'
import type { Origin } from './origin.js'
import type { Scheduler } from './scheduler.js'

/** Longest the package takes to elect a new leader once none leads (its fallback cycle is 1 s; a crashed leader says nothing). */
const ELECT_MAX_MS = 1500

type Member = { tab: string; deliver: (fn: () => void) => void; leader: boolean; closed: boolean; elected: Array<() => void> }

/**
 * What the broadcast-channel package's election gives tabs, idealized: a member joins, and while
 * no member of the room leads, the longest-standing one is elected after a drawn delay; a leader
 * leads until it leaves (a frozen tab leaves first, Election does that) or its tab closes. Two
 * leaders at once (the package's duplicate) are not modelled. The room's messages ride the
 * origin's BroadcastChannel model, so they are delayed, ordered and dropped as every message is.
 */
export class Elections {
  readonly #scheduler: Scheduler
  readonly #origin: Origin
  readonly #rooms = new Map<string, Member[]>()
  readonly #electing = new Set<string>()

  constructor(scheduler: Scheduler, origin: Origin) {
    this.#scheduler = scheduler
    this.#origin = origin
  }

  /** The platform's `election` for tab `tab`; `deliver` runs what reaches the tab (on resume, if it is frozen). */
  of(tab: string, deliver: (fn: () => void) => void): OpenRoom {
    return (name, events) => {
      const member: Member = { tab, deliver, leader: false, closed: false, elected: [] }
      const channel = this.#origin.channel(tab, deliver)(`room:${name}`)
      channel.onmessage = event => events.message(event.data)
      const members = this.#rooms.get(name) ?? []
      this.#rooms.set(name, members)
      members.push(member)
      this.#elect(name)
      const leave = () => {
        if (member.closed) return
        member.closed = true
        members.splice(members.indexOf(member), 1)
        channel.close()
        const waiting = member.elected.splice(0)
        member.deliver(() => waiting.forEach(resolve => resolve()))
        if (member.leader) this.#elect(name)
      }
      // A crashed page's session may still finish loading its leader lock: it joins a room it has already left.
      this.#origin.onClose(tab, leave)
      const room: ElectionRoom = {
        post: async message => void (member.closed || channel.postMessage(message)),
        get isLeader() {
          return member.leader && !member.closed
        },
        awaitLeadership: () => (member.leader || member.closed ? Promise.resolve() : new Promise<void>(resolve => member.elected.push(resolve))),
        close: async () => leave(),
      }
      return room
    }
  }

  /** No member of `name` leads: the longest-standing one is elected after a drawn delay. */
  #elect(name: string): void {
    const members = this.#rooms.get(name) ?? []
    if (this.#electing.has(name) || members.some(m => m.leader && !m.closed)) return
    this.#electing.add(name)
    this.#scheduler.after(this.#scheduler.random.int(0, ELECT_MAX_MS), `elect ${name.replace(/^.*:/, '')}`, () => {
      this.#electing.delete(name)
      const next = members.find(m => !m.closed)
      if (!next || members.some(m => m.leader && !m.closed)) return
      next.leader = true
      this.#scheduler.note(`leader ${next.tab}`)
      next.deliver(() => {
        for (const resolve of next.elected.splice(0)) resolve()
      })
    })
  }
}
