/** `npm run lint:pending`: writes LINT-PENDING.md, what src/ breaks of the lint with no exemption today. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../../bench/lib/bundle.js'
import { lint, loadLintConfig, pendingReport, srcCycles } from './lint-src.js'

const { unexempted } = await loadLintConfig()
const violations = await lint(unexempted)
writeFileSync(join(ROOT, 'LINT-PENDING.md'), pendingReport(violations, srcCycles()))
console.log(`LINT-PENDING.md: ${violations.length} violations in ${new Set(violations.map(v => v.file)).size} files`)
