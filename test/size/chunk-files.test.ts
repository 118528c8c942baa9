/**
 * What keeps the page's download small beyond its byte count: code needed only on a failure or
 * with a rare option stays in its own chunk, and an on-demand chunk takes what it shares with
 * the page from the page rather than importing it (esbuild would split every module both
 * import into a file of its own, which every page then downloads, gzipped alone).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { measureChunks, type Chunks } from '../../bench/lib/bundle.js'

describe("the page's files", () => {
  let chunks: Chunks
  const chunkWith = (module: string) => chunks.lazy.find(c => c.inputs.includes(module))

  beforeAll(async () => {
    chunks = await measureChunks('src/index.ts')
  }, 60_000)

  it("a refused refresh's redaction is loaded on a refusal only: in neither the main nor the refresh chunk", () => {
    expect(chunks.mainInputs).not.toContain('src/utils/redact.ts')
    expect(chunkWith('src/core/refresh-call.ts')!.inputs).not.toContain('src/utils/redact.ts')
    expect(chunkWith('src/utils/redact.ts'), 'the redaction is a chunk loaded on demand').toBeDefined()
  })

  it('the election chunk (pages without Web Locks) imports none of the files the main chunk is made of', () => {
    const election = chunkWith('src/coordinator/leader-lock.ts')!
    expect(election.imports.filter(file => chunks.mainFiles.includes(file))).toEqual([])
  })

  it('no on-demand chunk imports a file of the main chunk, so the main chunk is one file (each file is gzipped alone)', () => {
    // The refresh call and the worker client take their kits (REFRESH_KIT, LINK_KIT); a static import
    // of a page module from any of them would split it (and what it imports) into a file of its own.
    for (const chunk of chunks.lazy)
      expect(
        chunk.imports.filter(file => chunks.mainFiles.includes(file)),
        chunk.inputs.join(', '),
      ).toEqual([])
    expect(chunks.mainFiles).toHaveLength(1)
  })
})
