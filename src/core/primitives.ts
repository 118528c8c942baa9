/** The session's primitives for sockets and streams: ready(), accessToken() and authFailed(generation). */
import { SessionExpiredError } from '../errors.js'
import type { WaitSignal } from '../types.js'
import type { Gate } from './gate.js'
import type { SessionMachine } from './state.js'

export function createPrimitives(machine: SessionMachine, gate: Gate, transport: 'cookie' | 'bearer') {
  function over(): Promise<never> {
    return Promise.reject(new SessionExpiredError(machine.disposed ? 'disposed' : (machine.snapshot.reason ?? 'expired')))
  }

  /** Resolves when a managed request could go now: rotating first, waiting for reauthenticate. */
  async function ready(options?: WaitSignal): Promise<void> {
    const signal = options?.signal
    if (signal?.aborted) throw signal.reason
    if (!machine.managing()) return over()
    if (!gate.ready()) await gate.wait({ signal })
  }

  return {
    ready,
    async accessToken(options?: WaitSignal): Promise<string> {
      if (transport !== 'bearer') {
        throw new TypeError("rotor-auth: accessToken() needs transport 'bearer'; with cookies the browser sends the token itself")
      }
      await ready(options)
      return machine.snapshot.accessToken ?? ''
    },
    /**
     * The AT of `generation` was refused: rotate unless a newer generation exists, joining the
     * rotation in flight, as a fetch answered 401 does; many reports of one generation rotate once.
     */
    async authFailed(generation: number, options?: WaitSignal): Promise<void> {
      if (typeof generation !== 'number' || !Number.isInteger(generation) || generation < 0) {
        throw new TypeError(`rotor-auth: authFailed(generation) needs the generation the refused token belonged to (session.state.generation), got ${String(generation)}`)
      }
      if (!machine.managing()) return over()
      await gate.wait({ stale: generation, signal: options?.signal })
    },
  }
}
