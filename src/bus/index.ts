/**
 * hotpath/bus: an agent message bus (priorities with a waiting bound, retries, dead letters,
 * batch handlers, request-reply, idempotency) and the generic batch processor it is built on.
 */

export type {
  CloseOptions,
  Message,
  MessageBatchHandler,
  MessageHandler,
  RequestOptions,
  SendOptions,
} from './api.js'
export {
  type Batch,
  type BatchHandler,
  BatchProcessor,
  type BatchProcessorOptions,
  type BatchProcessorStats,
  type BatchRetryOptions,
  createBatchProcessor,
} from './batch-processor.js'
export { Bus, createBus } from './bus.js'
export {
  BatchFullError,
  BusFullError,
  BusHandlerError,
  BusInvalidPayloadError,
  BusNoRouteError,
  BusTransportError,
  isNonRetryable,
  NonRetryableError,
} from './errors.js'
export { MemoryTransport, type MemoryTransportOptions, memoryTransport } from './memory-transport.js'
export type { NatsConnectionLike } from './nats-options.js'
export { NatsTransport, type NatsTransportOptions, natsTransport } from './nats-transport.js'
export type {
  BatchHandlerOptions,
  BusOptions,
  BusRetryOptions,
  HandlerOptions,
  StandardSchema,
} from './options.js'
export { RedisTransport, type RedisTransportOptions, redisTransport } from './redis-transport.js'
export type { BusEvents, BusStats } from './stats.js'
export {
  type Backpressure,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterReason,
  type Envelope,
  PRIORITIES,
  type Priority,
  type Reply,
  type Transport,
  type TransportHealth,
  type TransportSink,
} from './types.js'
