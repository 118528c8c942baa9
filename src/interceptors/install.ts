/** install(): puts the session's fetch and XHR facade on a target, and takes them off without breaking what wrapped them since. */
import type { InstallOptions, InstallTarget } from '../types.js'
import type { Interception } from './fetch.js'
import { createXhrClass } from './xhr.js'

export type Installation = {
  target: InstallTarget
  /** The fetch that was on the target when the session was installed: the session's underlying fetch from then on. */
  original: typeof fetch
  uninstall: () => void
}

/**
 * Patches `target.fetch` and `target.XMLHttpRequest`. Monitoring libraries (Sentry, Datadog,
 * loggers) wrap `fetch` after the app starts, and a second session may install over the
 * first; restoring the original then would cut them out of the chain, and a session whose
 * underlying fetch is `globalThis.fetch` would call itself through their wrapper until the
 * stack overflows. So uninstall restores only what is still ours on the target, and
 * otherwise turns our wrappers into pass-throughs to what they wrapped.
 */
export function installOn(target: InstallTarget, options: InstallOptions, sessionFetch: typeof fetch, ic: Interception): Installation {
  const original = target.fetch
  let active = true
  const wrapper =
    options.fetch === false
      ? undefined
      : (input: RequestInfo | URL, init?: RequestInit) => (active ? sessionFetch(input, init) : original.call(target, input, init))
  const OriginalXhr = options.xhr === false ? undefined : target.XMLHttpRequest
  // The facade passes requests through untouched once the session stops managing them.
  const Xhr = OriginalXhr && createXhrClass(OriginalXhr, { ...ic, managing: () => active && ic.managing() })
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
