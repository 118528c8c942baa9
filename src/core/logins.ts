/** The user's start() and logout() in one tab, in the order called: the start() called last is the session, and no login revives what a later logout() ended. */
import { LoginSupersededError } from '../errors.js'
import type { Grant } from '../types.js'
import { assertUsable, tokensFrom, type Tokens } from './grant.js'
import type { Sync } from './sync.js'

export type LoginsOptions = {
  now: () => number
  transport: 'cookie' | 'bearer'
  /** The grant, checked as the session needs it (DPoP-bound when the session signs). */
  bound: (grant: Grant | Response) => Grant | Response | Promise<Grant | Response>
  sync: Pick<Sync, 'publish'>
  /** Revokes a pair at the logout endpoint. */
  revoke: (tokens: Tokens) => Promise<void>
  /** The session's own logout: the server call and the end in every tab. */
  logout: (reason: 'user') => Promise<void>
}

export function logins({ now, transport, bound, sync, revoke, logout }: LoginsOptions) {
  // start()s numbered as called, the highest whose login went to the store, the last one a logout() followed, and the last publish.
  let called = 0
  let published = 0
  let ended = 0
  let publishing: Promise<unknown> | undefined
  return {
    // When the user signed in is when start() was called (or the login form answered, `madeAt`), not when its grant was read:
    // a tab frozen in between would otherwise date its login after one made later in another tab (sim seed 102887).
    async start(grant: Grant | Response, madeAt = now()): Promise<void> {
      const login = ++called
      const tokens = await tokensFrom(await bound(grant), now)
      // A dead grant (or a bearer one without its AT) would fail at once: refuse it, stay signed out.
      assertUsable(tokens, now(), transport)
      // A later start() whose grant was read first is the session: this pair must not replace it.
      if (published > login) throw new LoginSupersededError()
      // Nor may a login revive what a logout() called after it ended (sim seed 484692: the login
      // stayed live at the server): it is revoked. A bearer pair is held by no one; the jar holds
      // this login's cookie unless a later start()'s landed since (a cookie logout sends the jar's).
      if (ended >= login) {
        if (transport === 'bearer' || called === login) await revoke(tokens)
        throw new LoginSupersededError('logout')
      }
      published = login
      await (publishing = Promise.resolve(sync.publish(tokens, 'login', undefined, madeAt)))
    },
    async logout(): Promise<void> {
      // A start() called before this logout and not yet published is refused; one already on its way to the store is published, then ended.
      ended = called
      await publishing?.catch(() => undefined)
      await logout('user')
    },
  }
}

export type Logins = ReturnType<typeof logins>
