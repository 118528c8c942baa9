/** `rotor-auth/redis`: the Redis coordinator's public entry; `redis` itself is only a type here, the caller brings a connected client. */
export { createRedisCoordinator, type RedisCoordinator } from './coordinator.js'
export type { RedisClientLike, RedisCoordinatorOptions, RedisSubscriberLike } from './options.js'
