/**
 * A real redis-server for the tests that need one: started on a free port on 127.0.0.1 with
 * nothing persisted, restarted (crash and come back empty) or stopped by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, connect } from 'node:net'

export const REDIS_SERVER = process.env['REDIS_SERVER_PATH'] ?? '/usr/bin/redis-server'
/** False on a machine without redis-server: the suites skip (CI installs it, see .ci/run). */
export const HAVE_REDIS = existsSync(REDIS_SERVER)

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

/** Resolves once the port accepts a connection (redis-server is listening). */
async function listening(port: number, child: ChildProcess, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} before listening on ${port}`)
    const ok = await new Promise<boolean>(resolve => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => (socket.destroy(), resolve(true)))
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port} within ${timeout} ms`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

export type RedisServer = {
  port: number
  url: string
  readonly pid: number | undefined
  /** SIGKILL (a crash: nothing saved, every connection dropped), wait `downMs`, start again on the same port, empty. */
  restart(downMs?: number): Promise<void>
  /** SIGKILL only: Redis is down until `start()`. */
  kill(): Promise<void>
  start(): Promise<void>
  stop(): Promise<void>
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      // Nothing inherited: an orphan would otherwise hold the parent's pipes open.
      stdio: 'ignore',
    })
    child = proc
    await listening(port, proc)
  }
  const kill = async () => {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise(resolve => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exited
  }
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid
    },
    async restart(downMs = 300) {
      await kill()
      await new Promise(resolve => setTimeout(resolve, downMs))
      await start()
    },
    kill,
    start,
    stop: kill,
  }
}

/**
 * A TCP proxy in front of Redis for one client: `cut()` drops its connections and refuses
 * new ones (a network partition between that process and Redis), `heal()` lets it back in.
 * `connectDelayMs`: each new connection reaches Redis that much later (a slow handshake).
 */
export async function partitionableProxy(
  target: number,
  options: { connectDelayMs?: number } = {},
): Promise<{ url: string; cut(): void; heal(): void; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>()
  let cut = false
  const server = createServer(async client => {
    if (cut) return void client.destroy()
    if (options.connectDelayMs) {
      // What the client sends meanwhile waits in its socket's buffer.
      client.pause()
      await new Promise(resolve => setTimeout(resolve, options.connectDelayMs))
      if (client.destroyed) return
    }
    const upstream = connect(target, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => undefined)
    }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      cut = true
      for (const s of sockets) s.destroy()
    },
    heal() {
      cut = false
    },
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
