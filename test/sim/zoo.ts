/** The bug zoo: past defects the simulator must catch, each a model fault or a test-only switch inside src/ (src/utils/zoo.ts). */

/** Where a defect lives: `model` faults are the simulator's own; `src` defects are switches at the place their fix lives. */
type Entry = { defect: string; where: 'model' | 'src'; worker?: true }

/** Every defect of the zoo; docs/simulation.md's zoo table gives schedules to first catch and the bound zoo.test.ts holds it to. */
export const ZOO_DEFECTS = {
  'non-exclusive-locks': { where: 'model', defect: 'Web Locks that do not exclude (two rotations at once)' },
  'dropped-messages': { where: 'model', defect: 'a channel that loses 30 % of messages' },
  'forged-generation': { where: 'src', defect: 'a forged or foreign state far ahead is adopted (src/coordinator/protocol.ts plausible)' },
  'signed-out-silent': { where: 'src', defect: 'a signed-out tab does not answer hello (src/core/sync.ts #answer: sim seed 248)' },
  'body-unbounded': { where: 'src', defect: 'the give-up is cancelled once the headers came (src/core/refresh-call.ts: sim seed 32347)' },
  'late-answer-abandoned': { where: 'src', defect: 'an answer later than refreshTimeout is abandoned (src/core/refresh-call.ts)' },
  'lost-bearer-answer': { where: 'src', defect: 'a bearer 2xx whose body never came is retried with the spent RT (src/core/refresh.ts isTransient)' },
  'refusal-race': { where: 'src', defect: 'a refusal recorded after the lock is released (src/core/rotator.ts)' },
  'no-refresh-budget': { where: 'src', defect: 'no refresh budget (src/core/budget.ts)' },
  'expired-at-rotates': { where: 'src', defect: 'an AT arriving expired is taken as expired and rotated at once (src/core/grant.ts toTokens)' },
  'rotate-request-any': { where: 'src', defect: "a peer's rotate-request honoured for any generation, every time (src/coordinator/protocol.ts)" },
  'hook-ignores-signal': { where: 'src', defect: 'a reauthenticate hook that ignores its signal holds the hand-over until it settles (src/core/relogin.ts endLocked)' },
  // Sockets and streams (`--sockets` worlds: zoo.test.ts runs these with sockets on).
  'socket-subscribes-early': { where: 'src', defect: 'subscriptions replayed as a socket opens, before the server acknowledged its token (src/socket/socket.ts)' },
  'socket-no-backoff': { where: 'src', defect: 'a failed connection retried at once (src/socket/reconnect.ts failed)' },
  'socket-refusals-unbounded': { where: 'src', defect: 'token refusals never counted, each reconnecting at once (src/socket/reconnect.ts refused)' },
  'socket-refused-silent': { where: 'src', defect: 'a handshake refused before open goes unnoticed, the socket left connecting (src/socket/socket.ts onclose)' },
  // In worlds of tabs behind the rotation worker (zoo.test.ts runs it there).
  'no-rejoin': { where: 'src', worker: true, defect: 'a tab that lost the rotation worker never tries it again (src/worker/link.ts: 33 worker seeds)' },
} as const satisfies Record<string, Entry>

export type Zoo = keyof typeof ZOO_DEFECTS
export const ZOO = Object.keys(ZOO_DEFECTS) as Zoo[]

/** Turns the src/ switch of `zoo` on (or every switch off) for the run that follows. */
export function switchZoo(zoo: Zoo | undefined): void {
  globalThis.__ROTOR_ZOO__ = zoo && ZOO_DEFECTS[zoo].where === 'src' ? new Set([zoo]) : undefined
}
