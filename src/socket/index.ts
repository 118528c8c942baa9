/** `rotor-auth/socket`: WebSockets and event streams that re-authenticate before they resume. */
export { createSocket } from './socket.js'
export type {
  ConnectContext,
  RotorSocket,
  SocketEvents,
  SocketOptions,
  SocketStatus,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js'
export { createEventStream } from './sse.js'
export type { EventStreamEvents, EventStreamOptions, RotorEventStream, ServerSentEvent } from './sse.js'
