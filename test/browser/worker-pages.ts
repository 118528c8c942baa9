/** What the rotation worker's browser tests share: their pages, the spy, the minimum refresh count and the per-tab verdicts. */
import type { TabStats } from './harness'

/** The tab page (tab-page.ts) after `head` (engines.ts' error catcher where the driver needs it). */
export const tabHTML = (head = '') => `<!doctype html>
<meta charset="utf-8">
<title>rotor-auth tab</title>
${head}
<script src="/rotor.js"></script>
<script src="/tab.js"></script>
`

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

/** The spy's address for a tab page of `origin` and `transport`: the session's channel (named after its scope, as src/core/options.ts does) and the election's. */
export function spyURL(origin: string, transport: 'cookie' | 'bearer'): string {
  const channel = `rotor-auth:${transport === 'bearer' ? `${origin}/api` : origin}`
  return `${origin}/spy.html?channels=${encodeURIComponent(`${channel},${channel}:leader`)}`
}

/** The fewest refreshes that keep every call on a live AT over `elapsed` ms in timer mode (one per rotation interval). */
export const minimumRefreshes = (elapsed: number, accessTtl: number, rotateAt: number) => Math.max(1, Math.floor(elapsed / (accessTtl * rotateAt)))

/** A page function: every call the tab page's startTraffic sent has settled. */
export function allSettled(): boolean {
  const s = window.rotor.stats
  return s.sent === s.ok + s.status401 + s.errors.length + Object.values(s.other).reduce((a, b) => a + b, 0)
}

/** What went wrong in a tab: must equal `noFailures`. */
export function failures(stats: TabStats): { status401: number; errors: string[]; other: Record<string, number>; logouts: number } {
  return { status401: stats.status401, errors: stats.errors, other: stats.other, logouts: stats.logouts.length }
}
export const noFailures = { status401: 0, errors: [], other: {}, logouts: 0 }

export const fallbacks = (stats: TabStats) => stats.events.filter(e => e.type === 'worker-fallback')
