/** The snapshot store: in-process memory shared by sessions of one name, and optional persistent storage. */
import type { Snapshot, StorageLike } from '../types.js'
import { parseSnapshot, supersedes } from './protocol.js'
import type { Realm } from './realm.js'

export type StoreOptions = {
  /** Persistent storage (cookie transport: a reload resumes the session); undefined: memory only. */
  storage: StorageLike | undefined
  storageKey: string
  /** Whether tokens may be written to storage (bearer with `persist: true`). */
  persistTokens: boolean
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
      return supersedes(stored, held) ? stored : held
    },
    write(snapshot) {
      if (!realm.snapshot || !supersedes(realm.snapshot, snapshot)) realm.snapshot = snapshot
      if (!storage) return
      // Never move storage backwards: a reload must resume the newest state.
      const stored = readStorage()
      if (stored && supersedes(stored, snapshot)) return
      try {
        storage.setItem(storageKey, JSON.stringify(persistTokens ? snapshot : withoutTokens(snapshot)))
      } catch {
        // Storage full or disabled: the channel still carries the state to live tabs.
      }
    },
  }
}
