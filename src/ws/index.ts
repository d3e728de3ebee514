/**
 * hotpath/ws: WebSocket batching, conflation and backpressure on `ws`. `batched(socket)` wraps one
 * connection (a `ws` WebSocket or @fastify/websocket's socket): messages sent in one I/O turn go
 * out as one array frame, a message with a key replaces its pending predecessor, urgent messages
 * flush at once, and a client that stops reading costs bounded memory. `broadcaster()` encodes a
 * batch once for many connections. The client decoder is `hotpath/ws/client`.
 */
export {
  Batched,
  type BatchedStats,
  batched,
  CLOSE_OVER_CAP,
  CLOSE_STALLED,
  type WebSocketLike,
} from './batched.js'
export { Broadcaster, broadcaster } from './broadcast.js'
export {
  type DecodeOptions,
  decodeFrame,
  type FrameData,
  type OnMessagesOptions,
  onMessages,
  WsDecodeError,
} from './client.js'
export type { WireFormat } from './codec.js'
export { countersFor as wsCounters, type WsCounters, type WsStats } from './metrics.js'
export {
  type BatchedOptions,
  type BatchWindow,
  type ResolvedBatchedOptions,
  resolveBatchedOptions,
} from './options.js'
export type { SendOptions } from './queue.js'
