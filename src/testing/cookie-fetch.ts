/**
 * `cookieFetch()`: a fetch with its own cookie jar, i.e. one simulated browser, for Node
 * tests of the cookie transport. Built on fetch-cookie + tough-cookie (loaded on first use,
 * so `rotor-auth/testing` stays importable without them): `Path=/authn` cookies go only to
 * `/authn` and below, `Max-Age=0` deletes, `HttpOnly` cookies are sent like any other.
 */

/** A fetch bound to one cookie jar. */
export interface CookieFetch {
  (input: RequestInfo | URL, init?: RequestInit): Promise<Response>
  /** The `Cookie` header this jar would send to `url` ('' if none). */
  cookieString(url: string | URL): Promise<string>
  /** Forget every cookie. */
  clear(): Promise<void>
}

interface Jar {
  getCookieString(url: string): Promise<string>
  removeAllCookies(): Promise<void>
}

type FetchLike = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>

/**
 * Returns a fetch with its own cookie jar.
 * @param baseFetch the fetch that sends the requests. Default: `globalThis.fetch` as it is
 *   when cookieFetch() is called. Captured then, not looked up per request: after
 *   `session.install()` the global is the session itself, and a session whose `fetch` is this
 *   jar would send every request back into itself. Create it after msw's `listen()` for msw
 *   to intercept it.
 */
export function cookieFetch(baseFetch?: typeof fetch): CookieFetch {
  const platform = globalThis.fetch
  const base: FetchLike = baseFetch ?? ((input, init) => platform(input, init))
  let ready: Promise<{ fetch: FetchLike; jar: Jar }> | undefined
  const load = () => {
    ready ??= (async () => {
      const [{ default: makeFetchCookie }, { CookieJar }] = await Promise.all([import('fetch-cookie'), import('tough-cookie')])
      // Keep cookies for hosts such as `auth.test` or `localhost` (special-use domains).
      const jar = new CookieJar(undefined, { allowSpecialUseDomain: true, rejectPublicSuffixes: false })
      const wrapped = makeFetchCookie(base as typeof fetch, jar) as unknown as FetchLike
      return { fetch: wrapped, jar }
    })()
    return ready
  }
  const f = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const { fetch: wrapped } = await load()
    return wrapped(input, init)
  }) as CookieFetch
  f.cookieString = async url => (await load()).jar.getCookieString(String(url))
  f.clear = async () => (await load()).jar.removeAllCookies()
  return f
}
