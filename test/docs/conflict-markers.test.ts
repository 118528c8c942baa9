// No tracked text file keeps a merge's conflict markers: prettier reads them as Markdown text and the links test does not see them.
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

describe('merge conflict markers', () => {
  it('no tracked file has a line that opens, splits or closes a conflict', () => {
    let found = ''
    try {
      // -I skips binary files; the three markers at a line's start, as git writes them.
      found = execFileSync('git', ['grep', '-n', '-I', '-E', '^(<<<<<<< |>>>>>>> |=======$)', '--', '.', ':!node_modules'], { encoding: 'utf8' })
    } catch (error) {
      // git grep exits 1 when nothing matches.
      if ((error as { status?: number }).status !== 1) throw error
    }
    expect(found).toBe('')
  })
})
