#!/usr/bin/env node
/** `npx rotor-auth init <public dir>`: copies the rotation worker's script where the app serves its static files. */
import { copyFileSync, existsSync, mkdirSync, realpathSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const USAGE = `Usage: npx rotor-auth init <public dir>

Copies the rotation worker's script (rotor-auth/worker) to <public dir>/rotor-worker.js, for
apps that serve static files from that folder. Then pass its URL to the session:

  createSession({ ..., worker: '/rotor-worker.js' })

Run it again after upgrading rotor-auth: the script must match the library's version.`

/** Runs the command; returns the exit code. */
export function main(args: string[], log: (line: string) => void = console.log): number {
  const [command, target, ...rest] = args
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    log(USAGE)
    return command === undefined ? 1 : 0
  }
  if (command !== 'init' || target === undefined || rest.length > 0) {
    log(`rotor-auth: unknown command ${JSON.stringify(args.join(' '))}\n\n${USAGE}`)
    return 1
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
  log(`rotor-auth: wrote ${relative(process.cwd(), destination) || destination}. Serve it from your origin and pass its URL as the \`worker\` option.`)
  return 0
}

// Run as the package's bin (npx runs it through a symlink); imported, it only exports main().
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) process.exitCode = main(process.argv.slice(2))
