/** The bug zoo's switches cost the published build nothing: tsup folds every one of them away, names and all. */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { ROOT } from '../../bench/lib/bundle.js'
import { buildOnce } from '../build/build-once.js'
import { REDIS_ZOO } from './redis-world.js'
import { ZOO_DEFECTS } from './zoo.js'

const SWITCHES = Object.entries(ZOO_DEFECTS)
  .filter(([, entry]) => entry.where === 'src')
  .map(([name]) => name)
  .concat(Object.keys(REDIS_ZOO))

/** Every file under `dir`, recursively, relative to it. */
function files(dir: string, under = ''): string[] {
  return readdirSync(join(dir, under), { withFileTypes: true }).flatMap(entry => (entry.isDirectory() ? files(dir, join(under, entry.name)) : [join(under, entry.name)]))
}

describe('bug zoo switches in the build', () => {
  beforeAll(buildOnce, 300_000)

  test('every src/ switch is where its fix lives (the check below looks for something real)', () => {
    const sources = files(join(ROOT, 'src'))
      .filter(file => file.endsWith('.ts'))
      .map(file => readFileSync(join(ROOT, 'src', file), 'utf8'))
      .join('\n')
    for (const name of SWITCHES) expect(sources, name).toContain(`__ROTOR_ZOO__.has('${name}')`)
  })

  test('no published script names the zoo or any switch (the branches were dropped, not just never taken)', () => {
    const scripts = files(join(ROOT, 'dist')).filter(file => /\.(c|m)?js$/.test(file))
    expect(scripts.length).toBeGreaterThan(5)
    const found: string[] = []
    for (const file of scripts) {
      const code = readFileSync(join(ROOT, 'dist', file), 'utf8')
      for (const name of ['__ROTOR_ZOO__', ...SWITCHES]) if (code.includes(name)) found.push(`${file}: ${name}`)
    }
    expect(found).toEqual([])
  })
})
