/** The session's DPoP key pair: generated non-extractable, one per session name, shared through IndexedDB where it exists, else kept by the process. */
import type { Platform } from '../platform/types.js'

/** What the key store takes from the platform. */
export type KeyPlatform = Pick<Platform, 'crypto' | 'indexedDB'>

/** The signing algorithms a session may ask for, with their WebCrypto key parameters. */
export const DPOP_ALGS = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  ES384: { name: 'ECDSA', namedCurve: 'P-384' },
  EdDSA: { name: 'Ed25519' },
  Ed25519: { name: 'Ed25519' },
} as const

export type DpopAlg = keyof typeof DPOP_ALGS

const DB = 'rotor-auth-dpop'
const STORE = 'keys'

/** Node (or a page without IndexedDB): every session of one name in this process signs with one key. */
const inProcess = new Map<string, Promise<CryptoKeyPair>>()

/** `extractable: false`: a script can ask the key to sign, but can never read it out (exportKey throws). */
function generate(crypto: Crypto, alg: DpopAlg): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(DPOP_ALGS[alg], false, ['sign', 'verify']) as Promise<CryptoKeyPair>
}

function isPair(value: unknown): value is CryptoKeyPair {
  const pair = value as Partial<CryptoKeyPair> | undefined
  return typeof pair === 'object' && pair !== null && typeof pair.privateKey === 'object' && typeof pair.publicKey === 'object'
}

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}

/** Whether the transaction committed (false: it failed or was aborted; the caller falls back). */
function committed(tx: IDBTransaction): Promise<boolean> {
  return new Promise(resolve => {
    tx.oncomplete = () => resolve(true)
    tx.onerror = tx.onabort = () => resolve(false)
  })
}

function open(idb: IDBFactory): Promise<IDBDatabase> {
  const request = idb.open(DB, 1)
  request.onupgradeneeded = () => request.result.createObjectStore(STORE)
  return done(request)
}

/**
 * The key pair stored under `id`, created if absent. IndexedDB keeps a CryptoKey by structured
 * clone, unexported, so every tab and the rotation worker of the origin sign with the same key.
 * Generating is async and cannot happen inside a transaction (it would commit meanwhile), so a
 * candidate is generated first and put only if the store is still empty, inside one readwrite
 * transaction: those never overlap on a store, so of two tabs racing here the second finds the
 * first one's key, and both read back the one that was stored. Undefined: IndexedDB did not
 * keep it (the caller falls back to the process's key).
 */
async function fromIndexedDB({ crypto, indexedDB }: { crypto: Crypto; indexedDB: IDBFactory }, id: string, alg: DpopAlg): Promise<CryptoKeyPair | undefined> {
  const db = await open(indexedDB)
  try {
    const found: unknown = await done(db.transaction(STORE).objectStore(STORE).get(id))
    if (isPair(found)) return found
    const candidate = await generate(crypto, alg)
    const tx = db.transaction(STORE, 'readwrite')
    const store = tx.objectStore(STORE)
    const ended = committed(tx)
    const current: unknown = await done(store.get(id))
    if (!isPair(current)) store.put(candidate, id)
    if (!(await ended)) return undefined
    const stored: unknown = await done(db.transaction(STORE).objectStore(STORE).get(id))
    return isPair(stored) ? stored : undefined
  } finally {
    db.close()
  }
}

/**
 * The key pair of session `name` for `alg`. Where IndexedDB is missing or refuses (a private
 * window of an old browser), the key lives in this process only: tabs then hold different keys,
 * and an RT bound to one is refused to the others, which ends the session (docs/guides/dpop.md, A lost key).
 */
export async function loadKeyPair(name: string, alg: DpopAlg, { crypto, indexedDB }: KeyPlatform): Promise<CryptoKeyPair> {
  const id = `${name}|${alg}`
  if (indexedDB) {
    try {
      const stored = await fromIndexedDB({ crypto, indexedDB }, id, alg)
      if (stored) return stored
    } catch {
      // Fall through to the process's key.
    }
  }
  let pair = inProcess.get(id)
  if (!pair) {
    pair = generate(crypto, alg)
    inProcess.set(id, pair)
    pair.catch(() => inProcess.delete(id))
  }
  return pair
}
