/** Running an example as a command: only when it is the script node was started with, with its exit code, and nothing left running after. */
import { realpath } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'

/** True when the module at `moduleUrl` is the script node was started with (not an import, e.g. from a test). */
async function invokedDirectly(moduleUrl: string): Promise<boolean> {
  const script = process.argv[1]
  if (!script) return false
  try {
    return pathToFileURL(await realpath(script)).href === moduleUrl
  } catch {
    return false
  }
}

/**
 * Runs `main` when `moduleUrl` (the caller's `import.meta.url`) is the started script, and
 * exits with its code. A stopped demo must not linger on a stray handle: it exits 2 s later
 * whatever is still open.
 */
export async function runIfMain(moduleUrl: string, name: string, main: () => number | Promise<number>): Promise<void> {
  if (!(await invokedDirectly(moduleUrl))) return
  Promise.resolve()
    .then(main)
    .then(
      code => {
        process.exitCode = code
        setTimeout(() => process.exit(code), 2_000).unref()
      },
      (error: unknown) => {
        console.error(`${name} failed:`, error)
        process.exit(1)
      },
    )
}
