/** How a snapshot is kept in Redis and carried on its pub/sub channel: sealed (AES-256-GCM, a key per name), or with the tokens left out. */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { parseSnapshot, type Snapshot } from '../coordinator/protocol.js'
import { RotorTypeError } from '../errors.js'

/**
 * What Redis holds and the channel carries, as JSON text. Sealed, nothing is readable
 * outside the seal: generation and status are inside it (authenticated), so a writer without
 * the key can neither forge a "newer" state nor edit one; the write script compares stored
 * values byte for byte only, and the writer decides from what it opened (see coordinator.ts).
 */
type Envelope = { rotor: 'redis'; v: 2; sealed?: string; snapshot?: unknown }

export type Sealer = {
  /** The envelope's JSON text. */
  seal(snapshot: Snapshot): Promise<string>
  /** Undefined when the text is malformed, foreign, tampered with or sealed with none of our keys. */
  open(text: unknown): Promise<Snapshot | undefined>
}

const IV = 12
const TAG = 16
const SALT = new TextEncoder().encode('rotor-auth/redis v2')

/**
 * The key of one name, derived from the deployment key (HKDF-SHA-256, the name as info): a
 * process trusted with one name's key cannot open another name's RT, and one deployment
 * secret serves every name.
 */
async function nameKey(key: Uint8Array, name: string, { subtle }: Crypto): Promise<Buffer> {
  const ikm = await subtle.importKey('raw', Uint8Array.from(key), 'HKDF', false, ['deriveBits'])
  const bits = await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: SALT, info: new TextEncoder().encode(name) }, ikm, 256)
  return Buffer.from(bits)
}

function parseEnvelope(text: unknown): Envelope | undefined {
  if (typeof text !== 'string') return undefined
  try {
    const value = JSON.parse(text) as Envelope
    return typeof value === 'object' && value !== null && value.rotor === 'redis' && value.v === 2 ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * Seals the whole snapshot (generation, status, tokens, expirations) with the first key and
 * opens with any of `keys`: to rotate the deployment key, list the new one first and keep the
 * old one after it until every process runs with the new list (docs/guides/redis.md, Rotating the key).
 */
export function keyedSealer(keys: readonly Uint8Array[], name: string, crypto: Crypto): Sealer {
  const derived = Promise.all(keys.map(key => nameKey(key, name, crypto)))
  // Not awaited by anyone before the first seal or open: an unhandled rejection would be
  // reported at creation (WebCrypto missing), the first use rejects with it anyway.
  derived.catch(() => undefined)
  const aad = Buffer.from(`rotor-auth/redis\0v2\0${name}`)
  return {
    async seal(snapshot) {
      const [key] = await derived
      const iv = crypto.getRandomValues(new Uint8Array(IV))
      const cipher = createCipheriv('aes-256-gcm', key!, iv)
      cipher.setAAD(aad)
      const body = Buffer.concat([cipher.update(JSON.stringify(snapshot), 'utf8'), cipher.final()])
      const envelope: Envelope = { rotor: 'redis', v: 2, sealed: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64') }
      return JSON.stringify(envelope)
    },
    async open(text) {
      const envelope = parseEnvelope(text)
      if (typeof envelope?.sealed !== 'string') return undefined
      const raw = Buffer.from(envelope.sealed, 'base64')
      if (raw.length <= IV + TAG) return undefined
      for (const key of await derived) {
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV))
          decipher.setAuthTag(raw.subarray(IV, IV + TAG))
          decipher.setAAD(aad)
          const plain = Buffer.concat([decipher.update(raw.subarray(IV + TAG)), decipher.final()]).toString('utf8')
          return parseSnapshot(JSON.parse(plain))
        } catch {
          // Not this key (or tampered with): try the next one.
        }
      }
      return undefined
    },
  }
}

/**
 * `tokens: 'omit'`: expirations, generation and status only, in the clear and unauthenticated
 * (there is no key). A snapshot that carries tokens (the bearer transport) is refused, loudly,
 * at the first login: stripping them would leave every other process with a session it
 * cannot send a request with.
 */
export function omittingSealer(): Sealer {
  return {
    async seal(snapshot) {
      if (snapshot.accessToken !== undefined || snapshot.refreshToken !== undefined) {
        throw new RotorTypeError(
          'ERR_USAGE',
          "rotor-auth/redis: createRedisCoordinator({ tokens: 'omit' }) cannot share the bearer transport's tokens; give it a `key` to store them encrypted",
        )
      }
      const envelope: Envelope = { rotor: 'redis', v: 2, snapshot }
      return JSON.stringify(envelope)
    },
    async open(text) {
      const snapshot = parseSnapshot(parseEnvelope(text)?.snapshot)
      if (!snapshot) return undefined
      // Whatever tokens a foreign writer put there are not ours to hand out.
      delete snapshot.accessToken
      delete snapshot.refreshToken
      return snapshot
    },
  }
}
