/**
 * hotpath/bus: an agent message bus (priorities with a waiting bound, retries, dead letters,
 * batch handlers, request-reply, idempotency) and the generic batch processor it is built on.
 */
export {
  type Batch,
  type BatchHandler,
  BatchProcessor,
  type BatchProcessorOptions,
  type BatchProcessorStats,
  type BatchRetryOptions,
  createBatchProcessor,
} from './batch-processor.js'
export {
  BatchFullError,
  BusFullError,
  BusHandlerError,
  BusInvalidPayloadError,
  BusNoRouteError,
  isNonRetryable,
  NonRetryableError,
} from './errors.js'
