/** docs/reference/<entry>.md: what each entry besides the main one exports, its options types with a heading per option. */
import ts from 'typescript'
import { banner, code, heading, page, prose, exampleLine } from './markdown.js'
import { described, fieldList, typeOf } from './members.js'
import { ENTRIES, memberName, type Source } from './source.js'

/** An exported types whose members are options: a heading each (`SocketOptions.url`). */
const isOptions = (name: string) => /Options$/.test(name)

function functionSection(src: Source, symbol: ts.Symbol, declaration: ts.Declaration): string[] {
  const type = src.checker.getTypeOfSymbolAtLocation(symbol, declaration)
  const signatures = type.getCallSignatures().map(s => code(`${symbol.name}${src.checker.signatureToString(s)}`))
  return [heading(2, `${symbol.name}()`), '', ...signatures.flatMap(s => [s, '']), prose(src.doc(symbol), '(undocumented)'), '', ...exampleLine(src.tag(symbol, 'example'))]
}

function typeSection(src: Source, symbol: ts.Symbol, declaration: ts.Declaration): string[] {
  const name = symbol.name
  const lines = [heading(2, name), '', prose(src.doc(symbol), '(undocumented)'), '']
  const members = src.members(declaration)
  if (isOptions(name) && members.length) {
    for (const m of members) lines.push(heading(3, `${name}.${memberName(m)}`), '', ...described(src, m, typeOf(src, m), memberName(m)))
    return lines
  }
  const fields = fieldList(src, declaration)
  if (fields.length) return [...lines, ...fields]
  const body = ts.isTypeAliasDeclaration(declaration) ? src.text(declaration.type) : undefined
  return body ? [...lines, code(body), ''] : lines
}

function valueSection(src: Source, symbol: ts.Symbol, declaration: ts.Declaration): string[] {
  const type = src.checker.typeToString(src.checker.getTypeOfSymbolAtLocation(symbol, declaration))
  return [heading(2, symbol.name), '', code(`${symbol.name}: ${type}`), '', prose(src.doc(symbol), '(undocumented)'), '']
}

/** One section per export: functions, options types and other types, constants; error classes are on errors.md. */
function section(src: Source, symbol: ts.Symbol): string[] {
  const declaration = symbol.declarations?.[0]
  if (!declaration) return []
  if (ts.isClassDeclaration(declaration)) return [heading(2, symbol.name), '', `An error class: see [errors.md](errors.md#${symbol.name.toLowerCase()}).`, '']
  if (ts.isFunctionDeclaration(declaration)) return functionSection(src, symbol, declaration)
  if (ts.isTypeAliasDeclaration(declaration) || ts.isInterfaceDeclaration(declaration)) return typeSection(src, symbol, declaration)
  if (ts.isVariableDeclaration(declaration)) {
    const type = src.checker.getTypeOfSymbolAtLocation(symbol, declaration)
    return type.getCallSignatures().length ? functionSection(src, symbol, declaration) : valueSection(src, symbol, declaration)
  }
  return []
}

/** The entries other than `rotor-auth` itself, each a page named after it (`socket.md`). */
export function entryPages(src: Source): Array<[file: string, text: string]> {
  return ENTRIES.filter(([entry]) => entry !== 'rotor-auth').map(([entry, file]) => {
    const module = src.file(file)
    const opening = leadingDoc0(module)
    const symbols = src.exportsOf(file)
    return [
      `${entry.replace('rotor-auth/', '')}.md`,
      page([...banner(code(entry), prose(opening)), symbols.map(s => code(s.name)).join(' · '), '', ...symbols.flatMap(s => section(src, s))]),
    ]
  })
}

/** A file's opening comment: the entry's one-sentence job. */
function leadingDoc0(sf: ts.SourceFile): string {
  const match = /^\/\*\*([\s\S]*?)\*\//.exec(sf.text)
  return match
    ? match[1]!
        .split('\n')
        .map(l => l.replace(/^\s*\* ?/, '').trim())
        .join(' ')
        .trim()
    : ''
}
