/** `rotor-auth/socket`: WebSockets and event streams that re-authenticate before they resume. */
export { createSocket } from './socket.js'
export type {
  CloseCause,
  ConnectContext,
  ConnectionError,
  ConnectionFailure,
  RotorSocket,
  SocketEvents,
  SocketOptions,
  SocketStatus,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js'
export { createEventStream } from './sse.js'
export type { EventStreamEvents, EventStreamOptions, RotorEventStream, ServerSentEvent } from './sse.js'
