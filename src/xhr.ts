/** The `rotor-auth/xhr` entry: the XMLHttpRequest facade, opt-in for apps whose requests go through XHR (axios' browser adapter, old code). */
import { createXhrClass } from './interceptors/xhr.js'
import type { XhrFacade } from './types.js'

/**
 * Pass it to `install`: `session.install(globalThis, { xhr })`. Then `XMLHttpRequest` in scope
 * waits for rotations, carries the session's credentials and hides a 401 it replays, as
 * `fetch` does. It is an entry of its own so that apps that only use fetch do not download it.
 */
export const xhr: XhrFacade = { create: createXhrClass } as unknown as XhrFacade

export type { XhrFacade } from './types.js'
