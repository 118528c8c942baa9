/** The Lua scripts: every step that reads and then changes a key runs atomically inside Redis. */

/**
 * The keys of one name. The `{name}` hash tag keeps them in one slot, so the scripts (which
 * touch several) also run on Redis Cluster.
 */
export function keysOf(name: string) {
  const base = `rotor:{${name}}`
  return {
    state: `${base}:state`,
    lock: `${base}:lock`,
    /** The last fencing token granted: grows by one per lock grant. */
    fence: `${base}:fence`,
    /** A random id set on first use: gone means Redis lost its data (restart without persistence). */
    epoch: `${base}:epoch`,
    /** While it lives nobody takes the lock: a holder whose lock vanished with the data may take it back. */
    quiet: `${base}:quiet`,
    channel: `${base}:bus`,
  }
}

export type RedisKeys = ReturnType<typeof keysOf>

/** The notice RELEASE publishes on the bus: the lock is free, waiters try now. No session message looks like it. */
export const RELEASED = JSON.stringify({ rotorRedis: 1, type: 'released' })

/**
 * Marks the data set: sets the epoch when missing. A caller that had seen an epoch before
 * (ARGV[1] not empty) has just watched Redis lose its data, lock included: for one lease
 * nobody may take the lock, so a holder whose refresh is still on the wire takes its lock
 * back (HOLD) before anyone can present the RT it is spending.
 * KEYS: epoch, quiet. ARGV: known epoch or '', fresh epoch, lease ms. Returns the epoch.
 */
export const EPOCH = `${ensureEpoch({ epoch: 'KEYS[1]', quiet: 'KEYS[2]', known: 'ARGV[1]', fresh: 'ARGV[2]', lease: 'ARGV[3]' })}
return epoch`

/**
 * The Lua that sets the Lua local `epoch` (see EPOCH), for the scripts that need it first:
 * each EVAL is self-contained, so the lines are spliced in with that script's key and
 * argument positions.
 */
function ensureEpoch(at: { epoch: string; quiet: string; known: string; fresh: string; lease: string }): string {
  return `
local epoch = redis.call('GET', ${at.epoch})
if not epoch then
  epoch = ${at.fresh}
  redis.call('SET', ${at.epoch}, epoch)
  if ${at.known} ~= '' then redis.call('SET', ${at.quiet}, '1', 'PX', ${at.lease}) end
end`
}

/**
 * SET NX PX with a fencing token. The lock's value is `<owner>:<fence>`; an owner whose
 * earlier attempt succeeded but whose reply was lost gets its grant back instead of waiting
 * out its own lease.
 * KEYS: lock, fence, epoch, quiet. ARGV: owner, lease ms, known epoch or '', fresh epoch.
 * Returns { fence (0: not granted), ms to wait before trying again, epoch }.
 */
export const ACQUIRE = `${ensureEpoch({ epoch: 'KEYS[3]', quiet: 'KEYS[4]', known: 'ARGV[3]', fresh: 'ARGV[4]', lease: 'ARGV[2]' })}
local current = redis.call('GET', KEYS[1])
local prefix = ARGV[1] .. ':'
if current and string.sub(current, 1, #prefix) == prefix then
  return { tonumber(string.sub(current, #prefix + 1)), 0, epoch }
end
local quiet = redis.call('PTTL', KEYS[4])
if quiet > 0 then return { 0, quiet, epoch } end
local fence = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
if redis.call('SET', KEYS[1], prefix .. fence, 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], fence)
  return { fence, 0, epoch }
end
return { 0, redis.call('PTTL', KEYS[1]), epoch }`

/**
 * The holder renews its lease and reads the state in one step. A lock that is gone (its
 * lease ran out, or Redis restarted empty) is taken back when no later grant exists (the
 * fence counter is not above ours): nobody else can have entered meanwhile. Taken by another
 * owner: `held` 0, the lease is lost.
 * KEYS: lock, fence, state, epoch. ARGV: lock value, lease ms, our fence, known epoch.
 * Returns { state or false, held 1|0 }.
 */
export const HOLD = `
local held = 0
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  held = 1
elseif not current and tonumber(redis.call('GET', KEYS[2]) or '0') <= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[2], ARGV[3])
  if ARGV[4] ~= '' and not redis.call('GET', KEYS[4]) then redis.call('SET', KEYS[4], ARGV[4]) end
  held = 1
end
return { redis.call('GET', KEYS[3]) or false, held }`

/**
 * Compare-and-delete: only the holder's own grant is released (a holder whose lease ran out
 * must not release its successor's), and the waiters are told at once.
 * KEYS: lock, channel. ARGV: lock value, the release notice.
 */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], ARGV[2])
  return 1
end
return 0`

/**
 * Compare-and-set, then publish in the same step (a member can never see the store move
 * without the message having gone out). Redis cannot open a sealed state, so it judges nothing
 * it cannot verify: the writer read and opened the current value, decided that ours may
 * replace it (coordinator.ts), and this replaces it only if it is still that same value, byte
 * for byte (else the writer reads again). A holder's marker writes carry its fencing token
 * and are refused once a later grant exists. Every key of the name gets the state's lifetime.
 * KEYS: state, channel, fence, epoch. ARGV: the value read ('' when absent), the new value,
 * the state message, lifetime ms, fencing token (0: not fenced).
 * Returns 1 written, 0 the value changed meanwhile, -1 fenced out.
 */
export const WRITE = `
local fence = tonumber(ARGV[5])
if fence > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') > fence then return -1 end
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[4], ARGV[4])
redis.call('PUBLISH', KEYS[2], ARGV[3])
return 1`
