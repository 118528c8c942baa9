#!/usr/bin/env node
/** `npx rotor-auth init <public dir>`: copies the rotation worker's script where the app serves its static files. */
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const USAGE = `Usage: npx rotor-auth init <public dir>

Copies the rotation worker's script (rotor-auth/worker) to <public dir>/rotor-worker.js, and
the source map it points to beside it, for apps that serve static files from that folder.
Then pass its URL to the session:

  createSession({ ..., worker: '/rotor-worker.js' })

Run it again after upgrading rotor-auth: the script must match the library's version.`

/** Exit code of a command line that is not a command: the usage convention (sh, getopt). */
const MISUSE = 2

/** The file named by the script's last `//# sourceMappingURL=` comment, when it is a plain relative file name. */
function sourceMapOf(script: string): string | undefined {
  const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(script, 'utf8'))?.[1]
  // A data: URL is inline (nothing to copy); anything with a path would be copied elsewhere than it points.
  if (!url || url !== basename(url) || url.includes(':')) return undefined
  return url
}

/** Runs the command; returns the exit code. */
export function main(args: string[], log: (line: string) => void = console.log): number {
  const [command, target, ...rest] = args
  if (command === 'help' || command === '--help' || command === '-h') {
    log(USAGE)
    return 0
  }
  if (command === undefined || (command === 'init' && target === undefined)) {
    log(USAGE)
    return MISUSE
  }
  if (command !== 'init' || target === undefined || rest.length > 0) {
    log(`rotor-auth: unknown command ${JSON.stringify(args.join(' '))}\n\n${USAGE}`)
    return MISUSE
  }
  const source = fileURLToPath(new URL('./rotor-worker.js', import.meta.url))
  if (!existsSync(source)) {
    log(`rotor-auth: ${source} is missing: is the package built?`)
    return 1
  }
  const dir = resolve(target)
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    log(`rotor-auth: ${dir} is not a directory`)
    return 1
  }
  mkdirSync(dir, { recursive: true })
  const destination = join(dir, 'rotor-worker.js')
  copyFileSync(source, destination)
  const written = [destination]
  // The script names its map; left behind, every devtools session 404s on it.
  const map = sourceMapOf(source)
  if (map && existsSync(join(dirname(source), map))) {
    copyFileSync(join(dirname(source), map), join(dir, map))
    written.push(join(dir, map))
  }
  const shown = written.map(f => relative(process.cwd(), f) || f).join(' and ')
  log(`rotor-auth: wrote ${shown}. Serve them from your origin and pass the script's URL as the \`worker\` option.`)
  return 0
}

// Run as the package's bin (npx runs it through a symlink); imported, it only exports main().
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) process.exitCode = main(process.argv.slice(2))
