/** `rotor-auth/redis`: the Redis coordinator's public entry; `redis` itself is only a type here, the caller brings a connected client. */
export { createRedisCoordinator, type RedisCoordinator } from './coordinator.js'
export { RedisClosedError, RedisConflictError, RedisStateError, type RedisStateProblem } from './errors.js'
export type { RedisClientLike, RedisCoordinatorOptions, RedisKey, RedisSubscriberLike } from './options.js'
