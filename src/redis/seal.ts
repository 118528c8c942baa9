/** How a snapshot is kept in Redis and carried on its pub/sub channel: AES-256-GCM sealed, or with the tokens left out. */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { parseSnapshot, type Snapshot } from '../coordinator/protocol.js'

/**
 * What Redis holds and the channel carries. `generation` and `status` stay readable: the
 * write script compares them (`supersedes`) atomically, in Lua. They are also bound into
 * the seal as additional data, so an envelope whose plain fields were edited fails to open.
 */
export type Envelope = { generation: number; status: Snapshot['status']; sealed?: string; snapshot?: Snapshot }

export type Sealer = {
  seal(snapshot: Snapshot): Envelope
  /** Undefined when the envelope is malformed, foreign, tampered with or sealed with another key. */
  open(value: unknown): Snapshot | undefined
}

const IV = 12
const TAG = 16

/** Seals the whole snapshot (tokens and expirations) with `key`; `name` binds it to this coordinator's name. */
export function aesSealer(key: Uint8Array, name: string): Sealer {
  const aad = (generation: number, status: string) => Buffer.from(`rotor-auth/redis\0${name}\0${generation}\0${status}`)
  return {
    seal(snapshot) {
      const iv = randomBytes(IV)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      cipher.setAAD(aad(snapshot.generation, snapshot.status))
      const body = Buffer.concat([cipher.update(JSON.stringify(snapshot), 'utf8'), cipher.final()])
      const sealed = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')
      return { generation: snapshot.generation, status: snapshot.status, sealed }
    },
    open(value) {
      const envelope = value as Partial<Envelope> | null
      if (typeof envelope !== 'object' || envelope === null || typeof envelope.sealed !== 'string') return undefined
      try {
        const raw = Buffer.from(envelope.sealed, 'base64')
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV))
        decipher.setAuthTag(raw.subarray(IV, IV + TAG))
        decipher.setAAD(aad(Number(envelope.generation), String(envelope.status)))
        const text = Buffer.concat([decipher.update(raw.subarray(IV + TAG)), decipher.final()]).toString('utf8')
        const snapshot = parseSnapshot(JSON.parse(text))
        return snapshot && snapshot.generation === envelope.generation && snapshot.status === envelope.status ? snapshot : undefined
      } catch {
        return undefined
      }
    },
  }
}

/**
 * `tokens: 'omit'`: expirations, generation and status only, in the clear. A snapshot that
 * carries tokens (the bearer transport) is refused, loudly, at the first login: stripping
 * them would leave every other process with a session it cannot send a request with.
 */
export function omittingSealer(): Sealer {
  return {
    seal(snapshot) {
      if (snapshot.accessToken !== undefined || snapshot.refreshToken !== undefined) {
        throw new TypeError(
          "rotor-auth/redis: createRedisCoordinator({ tokens: 'omit' }) cannot share the bearer transport's tokens; give it a `key` to store them encrypted",
        )
      }
      return { generation: snapshot.generation, status: snapshot.status, snapshot }
    },
    open(value) {
      const envelope = value as Partial<Envelope> | null
      if (typeof envelope !== 'object' || envelope === null) return undefined
      const snapshot = parseSnapshot(envelope.snapshot)
      if (!snapshot || snapshot.generation !== envelope.generation || snapshot.status !== envelope.status) return undefined
      // Whatever tokens a foreign writer put there are not ours to hand out.
      delete snapshot.accessToken
      delete snapshot.refreshToken
      return snapshot
    },
  }
}
