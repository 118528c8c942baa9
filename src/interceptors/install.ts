/** install(): puts the session's fetch and XHR facade on a target, and takes them off without breaking what wrapped them since. */
import { RotorTypeError } from '../errors.js'
import type { InstallOptions, InstallTarget } from '../types.js'
import type { Interception } from './fetch.js'
import type { createXhrClass } from './xhr.js'

/** What `rotor-auth/xhr` hands out behind the opaque XhrFacade type. */
type Facade = { create: typeof createXhrClass }

function xhrFacade(option: unknown): Facade | undefined {
  if (option === undefined || option === false) return undefined
  if (typeof (option as Partial<Facade> | null)?.create !== 'function') {
    throw new RotorTypeError('ERR_USAGE', "rotor-auth: install() option `xhr` must be the facade of 'rotor-auth/xhr' (its export `xhr`) or false, got " + String(option))
  }
  return option as Facade
}

export type Installation = {
  target: InstallTarget
  /** The fetch that was on the target when the session was installed: the session's underlying fetch from then on. */
  original: typeof fetch
  uninstall: () => void
}

/**
 * Patches `target.fetch`, and `target.XMLHttpRequest` when given the facade. Monitoring libraries (Sentry, Datadog,
 * loggers) wrap `fetch` after the app starts, and a second session may install over the
 * first; restoring the original then would cut them out of the chain, and a session whose
 * underlying fetch is `globalThis.fetch` would call itself through their wrapper until the
 * stack overflows. So uninstall restores only what is still ours on the target, and
 * otherwise turns our wrappers into pass-throughs to what they wrapped.
 */
export function installOn(target: InstallTarget, options: InstallOptions, sessionFetch: typeof fetch, interception: Interception): Installation {
  const facade = xhrFacade(options.xhr)
  const original = target.fetch
  let active = true
  const wrapper =
    options.fetch === false ? undefined : (input: RequestInfo | URL, init?: RequestInit) => (active ? sessionFetch(input, init) : original.call(target, input, init))
  const OriginalXhr = facade && target.XMLHttpRequest
  // The facade passes requests through untouched once the session stops managing them.
  const Xhr = OriginalXhr && facade.create(OriginalXhr, { ...interception, managing: () => active && interception.managing() })
  if (wrapper) target.fetch = wrapper
  if (Xhr) target.XMLHttpRequest = Xhr
  return {
    target,
    original,
    uninstall() {
      active = false
      if (wrapper && target.fetch === wrapper) target.fetch = original
      if (Xhr && target.XMLHttpRequest === Xhr) target.XMLHttpRequest = OriginalXhr
    },
  }
}
