/**
 * Finds import cycles among a folder's TypeScript files on its own, with TypeScript's parser
 * and a resolver of its own, so a misconfigured ESLint resolver cannot hide one. It counts
 * every static `import` and `export … from`, type-only ones included (issue 27 counts
 * `types.ts` ↔ `coordinator/types.ts` as a cycle), and leaves out `import()`: a chunk loaded on
 * demand may import its loader back, which has run by then.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import ts from 'typescript'

/** Every .ts/.tsx file under `dir`, absolute. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter(entry => entry.isFile() && /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map(entry => join(entry.parentPath, entry.name))
}

/** The specifiers of a file's static imports and re-exports. */
function specifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false)
  const found: string[] = []
  for (const statement of source.statements) {
    const specifier = ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement) ? statement.moduleSpecifier : undefined
    if (specifier && ts.isStringLiteral(specifier)) found.push(specifier.text)
  }
  return found
}

/**
 * The file a relative specifier names, as TypeScript's bundler resolution finds it
 * (`./x.js` → `./x.ts`). A relative specifier that names no file throws: an import this
 * walker could not follow would be a cycle it could not see.
 */
function resolveRelative(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier)
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]
  const file = candidates.find(candidate => /\.tsx?$/.test(candidate) && existsSync(candidate))
  if (!file) throw new Error(`${from}: cannot resolve '${specifier}' (tried ${candidates.join(', ')})`)
  return file
}

/** The import graph of `dir`: each file (relative to `root`, with `/`) → the files it imports. */
export function importGraph(dir: string, root: string): Map<string, string[]> {
  const name = (file: string) => relative(root, file).split(sep).join('/')
  const graph = new Map<string, string[]>()
  for (const file of sources(dir)) {
    const local = specifiers(file).filter(specifier => specifier.startsWith('.'))
    graph.set(
      name(file),
      local.map(specifier => name(resolveRelative(file, specifier))),
    )
  }
  return graph
}

/**
 * Tarjan's strongly connected components: each component of more than one file, or a file
 * importing itself, is a cycle. Each is returned sorted, and the list sorted, so a result
 * compares equal to a list written by hand.
 */
export function importCycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  const visit = (file: string) => {
    index.set(file, index.size)
    low.set(file, index.get(file)!)
    stack.push(file)
    onStack.add(file)
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next)
        low.set(file, Math.min(low.get(file)!, low.get(next)!))
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!))
    }
    if (low.get(file) !== index.get(file)) return
    const component: string[] = []
    let member: string
    do {
      member = stack.pop()!
      onStack.delete(member)
      component.push(member)
    } while (member !== file)
    if (component.length > 1 || graph.get(file)?.includes(file)) cycles.push(component.sort())
  }
  for (const file of graph.keys()) if (!index.has(file)) visit(file)
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!))
}
