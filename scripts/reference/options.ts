/** docs/reference/options.md: every option of createSession, nested ones included, one heading each. */
import ts from 'typescript'
import { banner, code, exampleLine, facts, heading, optionExample, page, prose } from './markdown.js'
import { signature } from './members.js'
import { memberName, type Source } from './source.js'

const OPTIONS_FILE = 'src/options-types.ts'

/**
 * The members an option's value may have, each a nested option (`refresh.url`, `idle.timeout`,
 * `platform.now`): object literals in its type, the option types of options-types.ts it names,
 * and the interface inside a `Partial<…>` (the platform's pieces). Functions have none.
 */
function nested(src: Source, node: ts.TypeNode): ts.TypeElement[] {
  if (ts.isTypeLiteralNode(node)) return [...node.members]
  if (ts.isUnionTypeNode(node)) return node.types.flatMap(t => nested(src, t))
  if (ts.isParenthesizedTypeNode(node)) return nested(src, node.type)
  if (!ts.isTypeReferenceNode(node)) return []
  const declaration = src.referenced(node)
  if (!declaration) return []
  if (node.typeName.getText() === 'Partial' && node.typeArguments?.[0]) {
    const inner = node.typeArguments[0]
    const target = ts.isTypeReferenceNode(inner) ? src.referenced(inner) : undefined
    return target ? src.members(target) : nested(src, inner)
  }
  if (src.where(declaration) === OPTIONS_FILE && ts.isTypeAliasDeclaration(declaration)) return nested(src, declaration.type)
  return []
}

/** `RefreshOption` means `string | URL | …`: an alias of options-types.ts is spelt out once under the option. */
function aliasLine(src: Source, node: ts.TypeNode): string[] {
  if (!ts.isTypeReferenceNode(node)) return []
  const declaration = src.referenced(node)
  if (!declaration || src.where(declaration) !== OPTIONS_FILE || !ts.isTypeAliasDeclaration(declaration)) return []
  if (ts.isTypeLiteralNode(declaration.type)) return []
  return [`where ${code(`${declaration.name.text} = ${src.text(declaration.type)}`)}`, '']
}

/** One option (or nested option): its heading, type, default, description and example. */
function entry(src: Source, member: ts.TypeElement, path: string, level: number, inPartial = false): string[] {
  const symbol = src.symbolOf(member)
  const type = ts.isPropertySignature(member) && member.type ? member.type : undefined
  const typeText = type ? src.text(type) : ts.isMethodSignature(member) ? signature(src, member).replace(/^\w+\??/, '') : 'unknown'
  const optional = inPartial || !!member.questionToken
  const fallback = src.tag(symbol, 'default')
  const name = memberName(member)
  const lines = [
    heading(level, path),
    '',
    ...facts([code(typeText), optional ? undefined : 'required', fallback === undefined ? undefined : `default: ${fallback}`]),
    ...(type ? aliasLine(src, type) : []),
    prose(src.doc(symbol), '(undocumented)'),
    '',
    // A top-level option's example is a whole createSession call, which the docs' code test compiles.
    ...(level === 2 ? optionExample(src.tag(symbol, 'example'), name) : exampleLine(src.tag(symbol, 'example'), name)),
  ]
  // `Partial<Platform>`: every piece of it may be left out.
  const partial = !!type && ts.isTypeReferenceNode(type) && type.typeName.getText() === 'Partial'
  for (const inner of type ? nested(src, type) : []) lines.push(...entry(src, inner, `${path}.${memberName(inner)}`, level + 1, partial))
  return lines
}

/** Every option, in the order SessionOptions declares them. */
export function optionsPage(src: Source): string {
  const options = src.declaration(OPTIONS_FILE, 'SessionOptions')
  const members = src.members(options)
  const list = members.map(m => `[${code(memberName(m))}](#${memberName(m).toLowerCase()})`).join(' · ')
  return page([
    ...banner(
      'Session options',
      'What `createSession(options)` takes (the type `SessionOptions`). Only `scope` is required. An unknown option, or an unknown key inside a nested one, is a `TypeError` (code `ERR_INVALID_OPTION`) that names it: a typo never silently does nothing.',
    ),
    list,
    '',
    ...members.flatMap(m => entry(src, m, memberName(m), 2)),
  ])
}
