/** The session's waits for sockets and streams: ready(), accessToken() and authFailed(generation). */
import { RotorTypeError } from '../errors.js'
import type { WaitSignal } from '../types.js'
import type { Gate } from './gate.js'
import type { SessionView } from './state.js'

export function createWaits(machine: SessionView, gate: Pick<Gate, 'ready' | 'wait'>, transport: 'cookie' | 'bearer') {
  function over(): Promise<never> {
    return Promise.reject(machine.over())
  }

  /**
   * A session that has not started yet is waited for (until start(), dispose() or `signal`):
   * sockets and streams are often built before the user logs in. One that ended is over.
   */
  async function begun(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) throw signal.reason
    if (machine.notStarted && !machine.managing()) await machine.whenStarted(signal)
    if (!machine.managing()) return over()
  }

  /** Resolves when a managed request could go now: rotating first, waiting for reauthenticate. */
  async function ready(options?: WaitSignal): Promise<void> {
    const signal = options?.signal
    await begun(signal)
    if (!gate.ready()) await gate.wait({ signal })
  }

  return {
    ready,
    async accessToken(options?: WaitSignal): Promise<string> {
      if (transport !== 'bearer') {
        throw new RotorTypeError('ERR_USAGE', "rotor-auth: accessToken() needs transport 'bearer'; with cookies the browser sends the token itself")
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
        throw new RotorTypeError(
          'ERR_USAGE',
          `rotor-auth: authFailed(generation) needs the generation the refused token belonged to (session.state.generation), got ${String(generation)}`,
        )
      }
      await begun(options?.signal)
      await gate.wait({ stale: generation, signal: options?.signal })
    },
  }
}
