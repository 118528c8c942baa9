/** The few parts of oidc-provider (which ships no types) that the DPoP tests use. */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  type Context = { path: string; status: number; body: unknown; get(header: string): string; oidc: { params: Record<string, unknown> } }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>)
    callback(): (req: IncomingMessage, res: ServerResponse) => void
    on(event: 'grant.success', listener: (ctx: Context) => void): this
    on(event: 'grant.error', listener: (ctx: Context, error: unknown) => void): this
    use(middleware: (ctx: Context, next: () => Promise<void>) => Promise<void>): void
  }
}
