import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Debian's Chromium (never `playwright install`); CI sets CHROMIUM_PATH. */
export const chromiumPath: string = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/** Flags that keep headless Chromium quiet and working as root in containers. */
export const chromiumArgs: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** True when the Chromium binary exists on this machine. */
export function hasChromium(): boolean {
  return existsSync(chromiumPath)
}

/**
 * Whether a browser suite should be skipped: only when Chromium is missing
 * and we are not under CI (under CI a missing browser must fail, not skip).
 */
export function skipBrowserTests(): boolean {
  return !hasChromium() && !process.env.CI
}

/** Launch headless Chromium with the flags above. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [...chromiumArgs],
  })
}
