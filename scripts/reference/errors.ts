/** docs/reference/errors.md: every error class the entries export, and every `RotorErrorCode` with its meaning and class. */
import ts from 'typescript'
import { banner, code, heading, page, prose } from './markdown.js'
import { ENTRIES, leadingDoc, type Source } from './source.js'

/** A class that derives, at any depth, from Error. */
function isErrorClass(src: Source, declaration: ts.ClassDeclaration): boolean {
  const type = src.checker.getTypeAtLocation(declaration) as ts.InterfaceType
  const bases = (t: ts.Type): ts.Type[] => (t.isClassOrInterface() ? src.checker.getBaseTypes(t as ts.InterfaceType) : [])
  const seen: ts.Type[] = [type]
  for (let i = 0; i < seen.length && i < 20; i++) for (const base of bases(seen[i]!)) seen.push(base)
  return seen.some(t => t.symbol?.name === 'Error' || t.symbol?.name === 'TypeError')
}

/** Every class in src/ that names an `ERR_…` code in its body (its `code`, or the codes its constructor passes on). */
function classesByCode(src: Source): Map<string, string[]> {
  const byCode = new Map<string, string[]>()
  for (const sf of src.program.getSourceFiles()) {
    if (!src.where(sf).startsWith('src/')) continue
    const visit = (node: ts.Node): void => {
      if (ts.isClassLike(node) && node.name) {
        for (const [, found] of node.getText().matchAll(/'(ERR_[A-Z_]+)'/g)) {
          const list = byCode.get(found!) ?? []
          if (!list.includes(node.name.text)) list.push(node.name.text)
          byCode.set(found!, list)
        }
      }
      ts.forEachChild(node, visit)
    }
    visit(sf)
  }
  return byCode
}

/** The exported error classes, each with the entry to import it from. */
function errorClasses(src: Source): Array<{ entry: string; declaration: ts.ClassDeclaration }> {
  const out: Array<{ entry: string; declaration: ts.ClassDeclaration }> = []
  for (const [entry, file] of ENTRIES) {
    for (const symbol of src.exportsOf(file)) {
      const declaration = symbol.declarations?.find(ts.isClassDeclaration)
      if (declaration && isErrorClass(src, declaration) && !out.some(o => o.declaration === declaration)) out.push({ entry, declaration })
    }
  }
  return out
}

/** A class's own public fields other than `code` and `name`, e.g. `status`, `reason`. */
function fields(src: Source, declaration: ts.ClassDeclaration): string[] {
  const lines: string[] = []
  for (const member of declaration.members) {
    if (!ts.isPropertyDeclaration(member) || !ts.isIdentifier(member.name) || ['code', 'name'].includes(member.name.text)) continue
    const type = member.type ? src.text(member.type) : src.checker.typeToString(src.checker.getTypeAtLocation(member))
    const doc = src.doc(src.symbolOf(member))
    lines.push(`- ${code(`${member.name.text}: ${type}`)}${doc ? `: ${prose(doc).replace(/\n/g, ' ')}` : ''}`)
  }
  return lines.length ? [...lines, ''] : []
}

function classSection(src: Source, entry: string, declaration: ts.ClassDeclaration, codes: Map<string, string[]>): string[] {
  const name = declaration.name!.text
  const own = [...codes].filter(([, classes]) => classes[0] === name).map(([c]) => code(c))
  const base = declaration.heritageClauses?.[0]?.types[0]?.expression.getText()
  return [
    heading(2, name),
    '',
    [`import from ${code(entry)}`, base ? `extends ${code(base)}` : undefined, own.length ? `code ${own.join(', ')}` : undefined].filter(Boolean).join(' · '),
    '',
    prose(src.doc(src.symbolOf(declaration)), '(undocumented)'),
    '',
    ...fields(src, declaration),
  ]
}

/** Each member of the RotorErrorCode union, with the comment above it and the classes that carry it. */
function codeSections(src: Source, codes: Map<string, string[]>): string[] {
  const union = src.declaration('src/errors.ts', 'RotorErrorCode') as ts.TypeAliasDeclaration
  const members = ts.isUnionTypeNode(union.type) ? union.type.types : [union.type]
  return members.flatMap(member => {
    const name = member.getText().replace(/'/g, '')
    const classes = codes.get(name) ?? []
    return [heading(3, name), '', prose(leadingDoc(member), '(undocumented)'), '', ...(classes.length ? [`Carried by: ${classes.map(code).join(', ')}`, ''] : [])]
  })
}

export function errorsPage(src: Source): string {
  const codes = classesByCode(src)
  const classes = errorClasses(src)
  return page([
    ...banner(
      'Errors',
      "Every error rotor-auth throws or reports on purpose has a stable `code`: `switch (error.code)` never breaks on a reworded message. Test with `isRotorError(error)` rather than `instanceof`: it also recognises errors from another copy of the package (ESM and CJS, two bundles) and the classes that live in on-demand chunks (`ERR_DPOP_BINDING`, `ERR_WORKER`). Misuse is a `TypeError` (`RotorTypeError`, still `instanceof TypeError`). No error's message or fields carry a token.",
    ),
    '## Classes',
    '',
    ...classes.flatMap(({ entry, declaration }) => classSection(src, entry, declaration, codes).map(l => l.replace(/^## /, '### '))),
    '## Codes',
    '',
    ...codeSections(src, codes),
  ])
}
