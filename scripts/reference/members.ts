/** How the reference shows a type's fields and a function's signatures: the pieces pages share. */
import ts from 'typescript'
import { code, exampleLine, facts, prose } from './markdown.js'
import { memberName, type Source } from './source.js'

/** A member as it is declared, on one line (`fetch(input: …): Promise<Response>`), no trailing `;`. */
export function signature(src: Source, member: ts.Node): string {
  return src.text(member).replace(/;$/, '')
}

/** A member's type (a property's) or signature (a method's). */
export function typeOf(src: Source, member: ts.TypeElement): string {
  if (ts.isPropertySignature(member) && member.type) return src.text(member.type)
  return signature(src, member)
}

/** A member's JSDoc, or the marker the reference test refuses ("(undocumented)"). */
export function docOf(src: Source, member: ts.Declaration): string {
  return prose(src.doc(src.symbolOf(member)), '(undocumented)')
}

/** A type's fields as a bullet list: `name` (type): what it is. Index signatures are shown as written. */
export function fieldList(src: Source, node: ts.Node): string[] {
  const members = src.members(node)
  if (!members.length) return []
  const lines = members.map(m => {
    if (ts.isIndexSignatureDeclaration(m)) return `- ${code(signature(src, m))}: any other field the entry carries`
    if (!m.name) return `- ${code(signature(src, m))}`
    const optional = m.questionToken ? '?' : ''
    const doc = src.doc(src.symbolOf(m))
    const shown = ts.isMethodSignature(m) ? signature(src, m) : `${memberName(m)}${optional}: ${typeOf(src, m)}`
    return `- ${code(shown)}${doc ? `: ${prose(doc).replace(/\n/g, ' ')}` : ''}`
  })
  return [...lines, '']
}

/** The facts, prose and example of a documented declaration (`@default`, `@example` included). */
export function described(src: Source, declaration: ts.Declaration, typeText: string | undefined, key?: string): string[] {
  const symbol = src.symbolOf(declaration)
  const fallback = src.tag(symbol, 'default')
  const optional = 'questionToken' in declaration && !!declaration.questionToken
  return [
    ...facts([
      typeText === undefined ? undefined : code(typeText),
      optional ? undefined : key === undefined ? undefined : 'required',
      fallback === undefined ? undefined : `default: ${fallback}`,
    ]),
    prose(src.doc(symbol), '(undocumented)'),
    '',
    ...exampleLine(src.tag(symbol, 'example'), key),
  ]
}
