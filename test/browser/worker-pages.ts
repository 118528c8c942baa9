/** What the rotation worker's browser tests share beyond harness.ts: the spy page, the minimum refresh count and the fallbacks a tab saw. */
import type { TabStats } from './harness'
import { defaultChannelName } from '../../src/core/options.js'

/** A page of the origin that is not the app: it records every message on the channels named in `?channels=`. */
export const spyHTML = (head = '') => `<!doctype html>
<meta charset="utf-8">
${head}
<script>
  window.heard = []
  for (const name of (new URLSearchParams(location.search).get('channels') || '').split(',')) {
    new BroadcastChannel(name).onmessage = e => window.heard.push(JSON.stringify(e.data))
  }
</script>
`

/** The spy's address for a tab page of `origin` and `transport`: the session's channel (named by src/core/options.ts itself, after the scope and endpoints) and the election's. */
export function spyURL(origin: string, transport: 'cookie' | 'bearer'): string {
  // tab-page.ts's options for each transport.
  const [scope, refresh, logout] =
    transport === 'bearer' ? [`${origin}/api`, `${origin}/bearer/refresh`, `${origin}/bearer/logout`] : [origin, `${origin}/authn/refresh`, `${origin}/authn/logout`]
  const channel = defaultChannelName({ scope }, new URL(refresh), new URL(logout))
  return `${origin}/spy.html?channels=${encodeURIComponent(`${channel},${channel}:leader`)}`
}

/** The fewest refreshes that keep every call on a live AT over `elapsed` ms in timer mode (one per rotation interval). */
export const minimumRefreshes = (elapsed: number, accessTtl: number, rotateAt: number) => Math.max(1, Math.floor(elapsed / (accessTtl * rotateAt)))

/**
 * The most refreshes a run may see: 1.2 × the minimum, and at least one more than it. Times
 * count from the client's login while rotations follow the server's issue times, so a rotation
 * due right at the end of the run may or may not fall inside it.
 */
export const mostRefreshes = (minimum: number) => Math.max(1.2 * minimum, minimum + 1)

export const fallbacks = (stats: TabStats) => stats.events.filter(e => e.type === 'worker-fallback')
