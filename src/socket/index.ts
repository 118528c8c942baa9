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
