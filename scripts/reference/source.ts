/** The reference's view of the source: one TypeScript program over the package's entries, and the JSDoc, tags and type text of what they declare. */
import { join, relative } from 'node:path'
import ts from 'typescript'

/** Each public entry (its import name) and the file that is its source. */
export const ENTRIES: ReadonlyArray<readonly [entry: string, file: string]> = [
  ['rotor-auth', 'src/index.ts'],
  ['rotor-auth/xhr', 'src/xhr.ts'],
  ['rotor-auth/socket', 'src/socket/index.ts'],
  ['rotor-auth/react', 'src/react/index.ts'],
  ['rotor-auth/folio', 'src/folio/index.ts'],
  ['rotor-auth/redis', 'src/redis/index.ts'],
  ['rotor-auth/testing', 'src/testing/index.ts'],
  ['rotor-auth/devtools', 'src/devtools/index.ts'],
  // A script, not a module: it exports nothing, and its types file says how to load it.
  ['rotor-auth/worker', 'types/worker.d.ts'],
]

/** Erases comments, so a type with JSDoc inside prints as the type alone. */
const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed })

export class Source {
  readonly root: string
  readonly program: ts.Program
  readonly checker: ts.TypeChecker

  constructor(root: string) {
    this.root = root
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
      types: ['node'],
      jsx: ts.JsxEmit.ReactJSX,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    }
    this.program = ts.createProgram(
      ENTRIES.map(([, file]) => join(root, file)),
      options,
    )
    this.checker = this.program.getTypeChecker()
  }

  file(path: string): ts.SourceFile {
    const sf = this.program.getSourceFile(join(this.root, path))
    if (!sf) throw new TypeError(`reference: ${path} is not in the program`)
    return sf
  }

  /** The file a node comes from, relative to the repository (for "declared in" lines). */
  where(node: ts.Node): string {
    return relative(this.root, node.getSourceFile().fileName)
  }

  /** The declaration named `name` at the top of `path` (a type, interface, class, function or const). */
  declaration(path: string, name: string): ts.Declaration {
    for (const statement of this.file(path).statements) {
      if (ts.isVariableStatement(statement)) {
        const found = statement.declarationList.declarations.find(d => ts.isIdentifier(d.name) && d.name.text === name)
        if (found) return found
      } else if (ts.isTypeAliasDeclaration(statement) || ts.isInterfaceDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isFunctionDeclaration(statement)) {
        if (statement.name?.text === name) return statement
      }
    }
    throw new TypeError(`reference: ${path} declares no ${name}`)
  }

  /** What an entry exports, each resolved to the symbol that declares it, in source order of the export list. */
  exportsOf(path: string): ts.Symbol[] {
    const module = this.checker.getSymbolAtLocation(this.file(path))
    if (!module) return []
    return this.checker.getExportsOfModule(module).map(s => this.resolve(s))
  }

  resolve(symbol: ts.Symbol): ts.Symbol {
    return symbol.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(symbol) : symbol
  }

  /** A symbol's JSDoc text, without its tags. */
  doc(symbol: ts.Symbol): string {
    return ts.displayPartsToString(symbol.getDocumentationComment(this.checker)).trim()
  }

  /** A symbol's JSDoc tag `name` (`default`, `example`), as written, or undefined. */
  tag(symbol: ts.Symbol, name: string): string | undefined {
    const found = symbol.getJsDocTags(this.checker).find(t => t.name === name)
    return found ? ts.displayPartsToString(found.text).trim() : undefined
  }

  /** A type node as one line of source, comments left out. */
  text(node: ts.Node): string {
    return printer.printNode(ts.EmitHint.Unspecified, node, node.getSourceFile()).replace(/\s+/g, ' ').replace(/; }/g, ' }')
  }

  /** The declaration a type reference names (through imports), or undefined. */
  referenced(node: ts.TypeReferenceNode): ts.Declaration | undefined {
    const symbol = this.checker.getSymbolAtLocation(node.typeName)
    return symbol ? this.resolve(symbol).declarations?.[0] : undefined
  }

  /** The symbol of a declaration (a member, a type), for its JSDoc. */
  symbolOf(node: ts.Declaration): ts.Symbol {
    const name = ts.getNameOfDeclaration(node)
    const symbol = name && this.checker.getSymbolAtLocation(name)
    if (!symbol) throw new TypeError(`reference: no symbol for ${node.getText().slice(0, 40)}`)
    return symbol
  }

  /**
   * The members of an interface, a type literal, or a type alias of one (an intersection's
   * literals too): the properties and methods the reference gives a heading each.
   */
  members(node: ts.Node): ts.TypeElement[] {
    if (ts.isInterfaceDeclaration(node) || ts.isTypeLiteralNode(node)) return [...node.members]
    if (ts.isTypeAliasDeclaration(node)) return this.members(node.type)
    if (ts.isIntersectionTypeNode(node)) return node.types.flatMap(t => this.members(t))
    return []
  }
}

/** A member's name as written (`'rotate-error'` without its quotes). */
export function memberName(member: ts.TypeElement): string {
  const name = member.name
  if (!name) return ''
  return ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isPrivateIdentifier(name) ? name.text : name.getText()
}

/**
 * The JSDoc right before `node` (a union member's, which the compiler does not attach: it sits
 * before the `|`), searched back to the end of the previous member, with `/**`, `*` and `*\/` taken off.
 */
export function leadingDoc(node: ts.Node): string {
  const parent = node.parent
  const siblings = parent && ts.isUnionTypeNode(parent) ? parent.types : undefined
  const index = siblings ? siblings.indexOf(node as ts.TypeNode) : -1
  const from = index > 0 ? siblings![index - 1]!.end : index === 0 ? parent!.pos : node.pos
  const before = node.getSourceFile().text.slice(from, node.getStart())
  const start = before.lastIndexOf('/**')
  if (start < 0) return ''
  return before
    .slice(start + 3, before.indexOf('*/', start))
    .split('\n')
    .map(line => line.replace(/^\s*\* ?/, '').trimEnd())
    .join('\n')
    .trim()
}
