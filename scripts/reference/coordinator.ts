/** docs/reference/coordinator.md: the Coordinator contract an implementation must keep, its Lease, and the wire types and helpers it works with. */
import ts from 'typescript'
import { banner, code, heading, page, prose } from './markdown.js'
import { docOf, fieldList, signature } from './members.js'
import { leadingDoc, memberName, type Source } from './source.js'

const TYPES = 'src/coordinator/types.ts'
const PROTOCOL = 'src/coordinator/protocol.ts'

/** A documented type with its fields (or, for a union, nothing here: the caller lists its variants). */
function typeSection(src: Source, name: string): string[] {
  const declaration = src.declaration(TYPES, name)
  return [heading(2, name), '', docOf(src, declaration), '', ...fieldList(src, declaration)]
}

/** The variants of Message, by their `type`. */
function messageSection(src: Source): string[] {
  const declaration = src.declaration(TYPES, 'Message') as ts.TypeAliasDeclaration
  const variants = ts.isUnionTypeNode(declaration.type) ? declaration.type.types : [declaration.type]
  const lines = [heading(2, 'Message'), '', docOf(src, declaration), '']
  for (const variant of variants) {
    const type = ts.isTypeLiteralNode(variant) ? variant.members.find(m => memberName(m) === 'type') : undefined
    const literal = type && ts.isPropertySignature(type) && type.type ? type.type.getText().replace(/'/g, '') : '?'
    const doc = leadingDoc(variant)
    lines.push(`- ${code(literal)}: ${code(src.text(variant))}${doc ? ` — ${prose(doc).replace(/\n/g, ' ')}` : ''}`)
  }
  return [...lines, '', heading(2, 'OutgoingMessage'), '', docOf(src, src.declaration(TYPES, 'OutgoingMessage')), '']
}

/** The protocol helpers the main entry exports for coordinator authors. */
function helpers(src: Source): string[] {
  return ['parseMessage', 'parseSnapshot', 'supersedes', 'SIGNED_OUT'].flatMap(name => {
    const declaration = src.declaration(PROTOCOL, name)
    const symbol = src.symbolOf(declaration)
    const type = src.checker.getTypeOfSymbolAtLocation(symbol, declaration)
    const shown = ts.isFunctionDeclaration(declaration)
      ? `${name}${src.checker.signatureToString(src.checker.getSignaturesOfType(type, ts.SignatureKind.Call)[0]!)}`
      : `${name}: ${src.checker.typeToString(type)}`
    return [heading(3, name), '', code(shown), '', prose(src.doc(symbol), '(undocumented)'), '']
  })
}

export function coordinatorPage(src: Source): string {
  const coordinator = src.declaration(TYPES, 'Coordinator')
  const members = src.members(coordinator)
  return page([
    ...banner(
      'Coordinator',
      'The contract behind the `coordinator` option ([options.md](options.md#coordinator)): what sessions of one name share, and what an implementation (a worker, Redis — `rotor-auth/redis` — or a test that replays races) must guarantee. Types and helpers import from `rotor-auth`.',
    ),
    heading(2, 'Coordinator'),
    '',
    docOf(src, coordinator),
    '',
    ...members.flatMap(m => [heading(3, `${memberName(m)}${ts.isMethodSignature(m) ? '()' : ''}`), '', code(signature(src, m)), '', docOf(src, m), '']),
    ...['Lease', 'LockOptions', 'Snapshot'].flatMap(t => typeSection(src, t)),
    ...messageSection(src),
    '## Helpers',
    '',
    ...helpers(src),
  ])
}
