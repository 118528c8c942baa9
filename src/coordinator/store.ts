/** The snapshot store: in-process memory shared by sessions of one name, and optional persistent storage. */
import type { Snapshot, StorageLike } from '../types.js'
import { parseSnapshot, plausible, supersedes } from './protocol.js'
import type { Realm } from './realm.js'

export type StoreOptions = {
  /** Persistent storage (cookie transport: a reload resumes the session); undefined: memory only. */
  storage: StorageLike | undefined
  storageKey: string
  /** Whether tokens may be written to storage (bearer with `persist: true`). */
  persistTokens: boolean
  /**
   * A write to storage failed (full, disabled): the stored state was removed (`cleared`) or,
   * if even that failed, is stale. Called once per run of failures.
   */
  onStorageError?: (error: unknown, cleared: boolean) => void
}

function withoutTokens(snapshot: Snapshot): Snapshot {
  const { accessToken: _a, refreshToken: _r, ...rest } = snapshot
  return rest
}

export type Store = {
  read(): Snapshot | undefined
  write(snapshot: Snapshot): void
}

/** Reads return whichever of memory and storage supersedes the other; writes never move either back. */
export function createStore(realm: Realm, options: StoreOptions): Store {
  const { storage, storageKey, persistTokens } = options
  let failing = false

  function readStorage(): Snapshot | undefined {
    if (!storage) return undefined
    try {
      const raw = storage.getItem(storageKey)
      return raw === null ? undefined : parseSnapshot(JSON.parse(raw))
    } catch {
      return undefined
    }
  }

  return {
    read() {
      const stored = readStorage()
      const held = realm.snapshot
      if (!stored) return held
      if (!held) return stored
      // A stored generation leaping far past the one in memory was forged: it is not news.
      return supersedes(stored, held) && plausible(stored, held) ? stored : held
    },
    write(snapshot) {
      if (!realm.snapshot || !supersedes(realm.snapshot, snapshot)) realm.snapshot = snapshot
      if (!storage) return
      // Never move storage backwards: a reload must resume the newest state.
      const stored = readStorage()
      // (A forged leap there is overwritten: it must not freeze what a reload resumes.)
      if (stored && supersedes(stored, snapshot) && plausible(stored, snapshot)) return
      try {
        storage.setItem(storageKey, JSON.stringify(persistTokens ? snapshot : withoutTokens(snapshot)))
        failing = false
      } catch (error) {
        // Storage full or disabled. What it holds is now older than the truth: a reload would
        // resume a spent RT, or a session that was logged out. Remove it (a reload then starts
        // signed out; live tabs still hear the state on the channel) and say so.
        let cleared = true
        try {
          storage.removeItem(storageKey)
        } catch {
          cleared = false
        }
        if (!failing) options.onStorageError?.(error, cleared)
        failing = true
      }
    },
  }
}
