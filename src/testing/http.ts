/**
 * The `node:http` face of the reference auth server. `node:http` is imported lazily so that
 * `rotor-auth/testing` also loads in browsers (where only the msw face is usable).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { AuthOutcome, AuthRequest, ListenOptions, ListeningAuthServer, StaticFile } from './types.js'

export type Handle = (request: AuthRequest) => Promise<AuthOutcome>

/**
 * Another face on the same port (the WebSocket and SSE face): each hook takes a request over
 * and returns true, or returns false for a path that is not its own.
 */
export type FaceHooks = {
  /** An HTTP upgrade (a WebSocket handshake). */
  upgrade?(req: IncomingMessage, socket: Socket, head: Buffer): boolean
  /** A request answered by streaming (server-sent events), before the model sees it. */
  request?(req: IncomingMessage, res: ServerResponse): boolean
}

export async function listenHttp(handle: Handle, basePath: string, options: ListenOptions = {}, hooks: FaceHooks = {}): Promise<ListeningAuthServer> {
  const { createServer } = await import('node:http')
  const host = options.host ?? '127.0.0.1'
  const files = staticFiles(options.static)
  const sockets = new Set<Socket>()
  let closing = false
  let signalClosed!: () => void
  const closed = new Promise<void>(resolve => {
    signalClosed = resolve
  })

  const server = createServer((req, res) => {
    void serve(req, res)
  })
  // Unclaimed upgrades are refused; claimed sockets stay in `sockets`, so close() ends them too.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (closing || !hooks.upgrade?.(req, socket, head)) socket.destroy()
  })
  // Node answers keep-alive requests for 5 s by default; close() destroys them anyway.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (hooks.request?.(req, res)) return
    if (files.size > 0 && (req.method === 'GET' || req.method === 'HEAD')) {
      const url = req.url ?? '/'
      const q = url.indexOf('?')
      const file = files.get(q >= 0 ? url.slice(0, q) : url)
      if (file) {
        res.writeHead(200, {
          'Content-Type': file.type,
          'Content-Length': String(file.body.byteLength),
          'Cache-Control': 'no-store',
        })
        res.end(req.method === 'HEAD' ? undefined : file.body)
        return
      }
    }
    let body: string
    try {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      body = Buffer.concat(chunks).toString('utf8')
    } catch {
      req.socket.destroy()
      return
    }
    const headers = new Headers()
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]
      const value = req.rawHeaders[i + 1]
      if (name !== undefined && value !== undefined) headers.append(name, value)
    }
    let outcome: AuthOutcome
    try {
      outcome = await handle({ method: req.method ?? 'GET', path: req.url ?? '/', headers, body })
    } catch (error) {
      outcome = {
        type: 'response',
        response: { status: 500, headers: [['Content-Type', 'text/plain']], body: String(error) },
      }
    }
    if (closing || req.socket.destroyed) {
      req.socket.destroy()
      return
    }
    if (outcome.type === 'drop') {
      req.socket.destroy()
      return
    }
    if (outcome.type === 'hang') {
      await Promise.race([outcome.released, closed])
      req.socket.destroy()
      return
    }
    const { status, headers: out, body: text } = outcome.response
    // The model sets `Date` from the server clock; keep node from adding its own.
    res.sendDate = false
    res.statusCode = status
    const grouped = new Map<string, { name: string; values: string[] }>()
    for (const [name, value] of out) {
      const key = name.toLowerCase()
      const g = grouped.get(key) ?? { name, values: [] }
      g.values.push(value)
      grouped.set(key, g)
    }
    for (const { name, values } of grouped.values()) {
      res.setHeader(name, values.length === 1 && name.toLowerCase() !== 'set-cookie' ? (values[0] ?? '') : values)
    }
    if (outcome.type === 'cut') {
      // Headers out, then the connection goes before the body: the client's read fails.
      res.setHeader('Content-Length', String(Buffer.byteLength(text) + 64))
      res.flushHeaders()
      res.write(text.slice(0, Math.floor(text.length / 2)))
      setTimeout(() => req.socket.destroy(), 20)
      return
    }
    res.end(text)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('rotor-auth/testing: no TCP address')
  const hostInUrl = address.family === 'IPv6' || host.includes(':') ? `[${address.address}]` : host
  const origin = `http://${hostInUrl}:${address.port}`

  let closePromise: Promise<void> | undefined
  const close = (): Promise<void> => {
    closePromise ??= new Promise<void>(resolve => {
      closing = true
      signalClosed()
      server.close(() => resolve())
      server.closeAllConnections()
      for (const socket of sockets) socket.destroy()
    })
    return closePromise
  }

  return { url: origin + basePath, origin, port: address.port, close }
}

/** Validates `listen({ static })` once, up front; bodies are encoded once. */
function staticFiles(input: Record<string, StaticFile> | undefined): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>()
  if (input === undefined) return files
  if (typeof input !== 'object' || input === null) throw new TypeError('rotor-auth/testing: listen({ static }) must be an object of path → { type, body }')
  for (const [path, file] of Object.entries(input)) {
    if (!path.startsWith('/') || path.includes('?')) {
      throw new TypeError(`rotor-auth/testing: static path must start with "/" and have no query, got ${JSON.stringify(path)}`)
    }
    if (typeof file !== 'object' || file === null || typeof file.type !== 'string' || (typeof file.body !== 'string' && !(file.body instanceof Uint8Array))) {
      throw new TypeError(`rotor-auth/testing: static ${path} must be { type: string, body: string | Uint8Array }`)
    }
    const textual = /^text\/|javascript|json|xml|svg/i.test(file.type) && !/charset=/i.test(file.type)
    files.set(path, {
      type: textual ? `${file.type}; charset=utf-8` : file.type,
      body: typeof file.body === 'string' ? Buffer.from(file.body, 'utf8') : Buffer.from(file.body),
    })
  }
  return files
}
