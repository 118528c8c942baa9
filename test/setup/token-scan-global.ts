/** Vitest global setup (node project): gives the token scan a directory for this run and prints the run's totals at the end. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'

export default function setup(project: TestProject) {
  // One directory per run: the lead's run and an engineer's may share this machine's temp dir.
  const dir = mkdtempSync(join(tmpdir(), 'rotor-token-scan-'))
  project.provide('tokenScanDir' as never, dir as never)
  return () => {
    let files = 0,
      payloads = 0,
      tokens = 0,
      hits = 0
    for (const name of readdirSync(dir)) {
      const r = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { payloads: number; tokens: number; hits: number }
      files++
      payloads += r.payloads
      tokens += r.tokens
      hits += r.hits
    }
    rmSync(dir, { recursive: true, force: true })
    console.log(`token scan: ${files} test files, ${payloads} errors and events scanned, ${tokens} issued tokens known, ${hits} carrying token text`)
  }
}
