/** `npm run sim -- --seed S --schedules N [--no-locks] [--trace]`: runs schedules from seed S and prints one replay command per failure. */
import { parseArgs } from 'node:util'
import { runSchedule } from './schedule.js'

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    schedules: { type: 'string', default: '100' },
    'no-locks': { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
  },
})
const first = Number(values.seed)
const count = Number(values.schedules)
if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || count < 1) {
  console.error('usage: npm run sim -- --seed <integer> --schedules <count ≥ 1> [--no-locks] [--trace]')
  process.exit(2)
}
const locks = !values['no-locks']
const escapes = new Map<string, number>()
let failed = 0
let lastHash = ''
const started = performance.now()
for (let i = 0; i < count; i++) {
  const seed = (first + i) | 0
  const result = await runSchedule(seed, { locks })
  for (const [where, n] of result.escapes) escapes.set(where, (escapes.get(where) ?? 0) + n)
  if (values.trace) console.log(result.trace.join('\n'))
  lastHash = result.hash
  // An unattended run says where it is every 10,000 schedules.
  if ((i + 1) % 10_000 === 0) console.log(`… ${i + 1} schedules, ${failed} failed`)
  if (result.violations.length === 0) continue
  failed++
  const { invariant, detail, at } = result.violations[0]!
  console.log(`FAIL seed ${seed} [${invariant}] at ${at} ms: ${detail} (trace ${result.hash}, ${result.steps} steps)`)
  console.log(`  replay: npm run sim -- --seed ${seed} --schedules 1${locks ? '' : ' --no-locks'} --trace`)
}
const seconds = (performance.now() - started) / 1000
console.log(`${count} schedules from seed ${first}: ${failed} failed, ${(count / seconds).toFixed(1)} schedules/s`)
for (const [where, n] of [...escapes].sort()) console.log(`real-time escape: ${where} ×${n}`)
if (count === 1) console.log(`trace ${lastHash}`)
process.exitCode = failed > 0 ? 1 : 0
