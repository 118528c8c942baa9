/**
 * The msw face of the reference auth server: one `http.all` handler over the whole origin.
 *
 * Why plain `Response` and not msw's `HttpResponse`: in Node, msw 2 keeps ONE process-wide
 * cookie store. Every response built with `HttpResponse` that carries `Set-Cookie` is
 * stored there (read from the comma-joined `headers.get('set-cookie')`, so two cookies are
 * parsed as one, with the attributes of the last), and msw then APPENDS the stored cookies,
 * attributes and all, to the `Cookie` header of every later matching request — whichever
 * simulated browser sent it. A plain `Response` is not recorded, so the `Set-Cookie`
 * headers reach the caller intact (`headers.getSetCookie()` works) and only the caller's
 * own jar (see `cookieFetch`) decides what is sent back. The limitation that remains: if
 * other handlers in the same process answer with `HttpResponse` + `Set-Cookie`, msw adds
 * those cookies to requests reaching this handler too.
 *
 * In a browser, msw's service worker cannot set HttpOnly cookies: use the HTTP face there.
 */
import type { HttpHandler } from 'msw'
import type { Handle } from './http.js'

/**
 * msw's request handlers, as `server.handlers()` hands them out. `any` on purpose: the public
 * types of `rotor-auth/testing` must compile in a project without the optional peer msw
 * (`skipLibCheck: false`), and msw's handler classes are nominal (private fields), so no
 * structural type of ours would spread into `setupServer(...)`. They are only for msw.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type MswHandler = any

/**
 * msw is an optional peer: it is loaded here, on the first `handlers()` call, never when
 * `rotor-auth/testing` is imported, so the HTTP face and cookieFetch work without it.
 */
async function loadMsw(): Promise<typeof import('msw')> {
  try {
    return await import('msw')
  } catch (cause) {
    throw new Error('rotor-auth/testing: server.handlers() needs the optional peer msw (2.x): npm install --save-dev msw', { cause })
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

const NULL_BODY = new Set([101, 103, 204, 205, 304])

export async function mswHandlers(handle: Handle, origin: string): Promise<HttpHandler[]> {
  const { http } = await loadMsw()
  const base = new URL(origin).origin
  const matcher = new RegExp(`^${escapeRegExp(base)}(?:[/?#]|$)`)
  return [
    http.all(matcher, async ({ request }) => {
      const url = new URL(request.url)
      const outcome = await handle({
        method: request.method,
        path: url.pathname + url.search,
        headers: request.headers,
        body: await request.text(),
      })
      if (outcome.type === 'drop') return Response.error()
      if (outcome.type === 'hang') {
        await outcome.released
        return Response.error()
      }
      const { status, headers, body } = outcome.response
      const h = new Headers()
      for (const [name, value] of headers) h.append(name, value)
      if (outcome.type === 'cut') {
        const failing = new ReadableStream({ pull: controller => controller.error(new TypeError('rotor-auth/testing: connection cut')) })
        return new Response(failing, { status, headers: h })
      }
      const noBody = NULL_BODY.has(status) || request.method === 'HEAD'
      return new Response(noBody ? null : body, { status, headers: h })
    }),
  ]
}
