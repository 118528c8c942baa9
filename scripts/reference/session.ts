/** docs/reference/session.md and events.md: every method and property of a Session, and every event with its payload. */
import ts from 'typescript'
import { banner, code, heading, page } from './markdown.js'
import { docOf, fieldList, signature } from './members.js'
import { memberName, type Source } from './source.js'

const TYPES = 'src/types.ts'

/** The types a session's methods take and give, explained after them. */
const SESSION_TYPES = ['SessionState', 'SessionRequestInit', 'WaitSignal', 'InstallTarget', 'InstallOptions', 'XhrFacade']

/** A type of types.ts (or what it re-exports) with its fields. */
function typeSection(src: Source, name: string, level: number): string[] {
  const declaration = src.declaration(TYPES, name)
  const body = ts.isTypeAliasDeclaration(declaration) ? declaration.type : declaration
  const fields = fieldList(src, body)
  return [heading(level, name), '', docOf(src, declaration).replace('(undocumented)', ''), '', ...(fields.length ? fields : [code(src.text(body)), ''])]
}

/** The Session interface: methods (overloads together) and properties, in declaration order. */
export function sessionPage(src: Source): string {
  const members = src.members(src.declaration(TYPES, 'Session'))
  const names = [...new Set(members.map(memberName))]
  const sections = names.flatMap(name => {
    const all = members.filter(m => memberName(m) === name)
    const method = ts.isMethodSignature(all[0]!)
    const lines = [heading(2, method ? `session.${name}()` : `session.${name}`), '']
    for (const m of all) lines.push(code(signature(src, m)), '')
    // Overloads share one comment: the first that has one.
    const doc = all.map(m => docOf(src, m)).find(d => d !== '(undocumented)') ?? '(undocumented)'
    return [...lines, doc, '']
  })
  const list = names.map(n => code(n)).join(' · ')
  return page([
    ...banner(
      'Session',
      'What `createSession(options)` returns (the interface `Session`). Options: [options.md](options.md); events: [events.md](events.md); errors: [errors.md](errors.md).',
    ),
    list,
    '',
    ...sections,
    '## Types',
    '',
    ...SESSION_TYPES.flatMap(t => typeSection(src, t, 3)),
  ])
}

/** An event's payload: a named type's or a literal's fields, or the type itself. */
function payload(src: Source, type: ts.TypeNode): string[] {
  const target = ts.isTypeReferenceNode(type) ? src.referenced(type) : type
  const fields = target ? fieldList(src, target) : []
  if (!fields.length) return []
  return ['Payload fields:', '', ...fields]
}

/** SessionEvents: every event `session.on()` accepts, with what its listener receives. */
export function eventsPage(src: Source): string {
  const members = src.members(src.declaration(TYPES, 'SessionEvents'))
  const sections = members.flatMap(m => {
    const type = ts.isPropertySignature(m) ? m.type : undefined
    return [heading(2, memberName(m)), '', `Payload: ${code(type ? src.text(type) : 'unknown')}`, '', docOf(src, m), '', ...(type ? payload(src, type) : [])]
  })
  return page([
    ...banner(
      'Events',
      '`session.on(event, listener)` takes one of these names (the type `SessionEvents`) and returns its own unsubscribe; an unknown name is a `TypeError` (code `ERR_USAGE`). Payloads never carry a token.',
    ),
    members.map(m => code(memberName(m))).join(' · '),
    '',
    ...sections,
  ])
}
