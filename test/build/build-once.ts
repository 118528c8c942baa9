/**
 * One `tsup` build of dist/ per test run, shared by every test file that needs the published
 * build (test/build, test/install): the first file to ask builds, the others wait for it.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT } from '../../bench/lib/bundle.js'

const run = promisify(execFile)
// Outside the checkout (node_modules is shared, dist/ is packed), one pair per checkout.
const checkout = createHash('sha256').update(ROOT).digest('hex').slice(0, 12)
/** Held while building (mkdir is atomic: one process wins). */
const LOCK = join(tmpdir(), `rotor-auth-build-${checkout}.lock`)
/** Names the test run (vitest's main process: the test files' forks share it) whose build dist/ is. */
const STAMP = join(tmpdir(), `rotor-auth-build-${checkout}.run`)
/** A build takes ~40 s alone on this machine; a lock older than this was left by a killed run. */
const STALE_MS = 240_000
const POLL_MS = 250

const runId = String(process.ppid)
const stamped = () => {
  try {
    return readFileSync(STAMP, 'utf8') === runId
  } catch {
    return false
  }
}

let built: Promise<void> | undefined

/** Resolves once dist/ holds a build made during this test run (building it if nobody has). */
export function buildOnce(): Promise<void> {
  built ??= (async () => {
    const deadline = Date.now() + 2 * STALE_MS
    while (!stamped()) {
      if (Date.now() > deadline) throw new Error(`buildOnce: no build after ${2 * STALE_MS} ms (lock ${LOCK})`)
      try {
        mkdirSync(LOCK, { recursive: false })
      } catch {
        // Someone else builds: wait for their stamp, or take over a lock they left behind.
        try {
          if (Date.now() - statSync(LOCK).mtimeMs > STALE_MS) rmSync(LOCK, { recursive: true, force: true })
        } catch {
          /* released meanwhile */
        }
        await new Promise(resolve => setTimeout(resolve, POLL_MS))
        continue
      }
      try {
        if (!stamped()) {
          await run(process.execPath, [join(ROOT, 'node_modules/tsup/dist/cli-default.js')], { cwd: ROOT, timeout: STALE_MS })
          writeFileSync(STAMP, runId)
        }
      } finally {
        rmSync(LOCK, { recursive: true, force: true })
      }
    }
  })()
  return built
}

/** `npm pack` of the build into `destination`, as it would be published; returns the tarball's path. */
export async function packTo(destination: string): Promise<string> {
  await buildOnce()
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', destination], { cwd: ROOT, timeout: 120_000 })
  const [packed] = JSON.parse(stdout) as { filename: string }[]
  return join(destination, packed!.filename)
}
