/**
 * Options of the batch processor: defaults, validation (naming the option and the value) and
 * unknown keys refused with the closest name.
 */
import { assertKnownKeys } from '../options.js'
import { type Backoff, exponentialBackoff } from '../resilience/index.js'
import { type Clock, type Duration, toTimerMs } from '../time.js'
import type { BatchHandler, BatchProcessorOptions } from './batch-processor.js'

/** Retries of failed items. */
export interface BatchRetryOptions {
  /** Attempts in all, the first included. @default 3 */
  attempts?: number
  /** Delay before each retry. @default exponentialBackoff({ initial: 100, max: 30000 }) (full jitter) */
  backoff?: Backoff
}

const KNOWN = [
  'handler',
  'maxSize',
  'maxWait',
  'maxBytes',
  'sizeOf',
  'concurrency',
  'retry',
  'maxPending',
  'whenFull',
  'clock',
] as const

/** Checks that `v` is an integer >= min, naming `option`. */
export function positiveInt(v: unknown, option: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new RangeError(`${option} must be an integer >= ${min}; received ${String(v)}`)
  }
  return v
}

const jsonSize = (item: unknown): number => {
  if (typeof item === 'string') return item.length
  if (item instanceof Uint8Array) return item.byteLength
  return JSON.stringify(item)?.length ?? 0
}

/** Resolved retry options: `false` or attempts plus a backoff. */
export function resolveRetry(
  r: BatchRetryOptions | false | undefined,
  where: string,
): false | { attempts: number; backoff: Backoff } {
  if (r === false) return false
  assertKnownKeys(r, ['attempts', 'backoff'], `${where} retry`)
  const attempts = positiveInt(r?.attempts ?? 3, `${where} retry.attempts`)
  const backoff = r?.backoff ?? exponentialBackoff({ initial: 100, max: 30_000 })
  if (typeof backoff?.next !== 'function') {
    throw new TypeError(`${where} retry.backoff must be a Backoff (exponentialBackoff(), constantBackoff())`)
  }
  return { attempts, backoff }
}

/** Validates and freezes the options of `createBatchProcessor`. */
export function resolveBatchProcessorOptions<T>(o: BatchProcessorOptions<T>) {
  if (o === null || typeof o !== 'object') throw new TypeError('createBatchProcessor needs an options object')
  assertKnownKeys(o, KNOWN, 'createBatchProcessor options')
  if (typeof o.handler !== 'function') {
    throw new TypeError(`handler must be a function (items, batch) => ...; received ${typeof o.handler}`)
  }
  const maxBytes = o.maxBytes ?? Number.POSITIVE_INFINITY
  if (typeof maxBytes !== 'number' || !(maxBytes > 0)) {
    throw new RangeError(`maxBytes must be a number > 0; received ${String(maxBytes)}`)
  }
  if (o.sizeOf !== undefined && typeof o.sizeOf !== 'function') {
    throw new TypeError(`sizeOf must be a function (item) => bytes; received ${typeof o.sizeOf}`)
  }
  const whenFull = o.whenFull ?? 'block'
  if (whenFull !== 'block' && whenFull !== 'reject') {
    throw new TypeError(`whenFull must be 'block' or 'reject'; received ${String(whenFull)}`)
  }
  return Object.freeze({
    handler: o.handler as BatchHandler<T>,
    maxSize: positiveInt(o.maxSize ?? 100, 'maxSize'),
    maxWait: toTimerMs(o.maxWait ?? ('100ms' as Duration), 'maxWait'),
    maxBytes,
    sizeOf: (o.sizeOf ?? jsonSize) as (item: T) => number,
    concurrency: positiveInt(o.concurrency ?? 1, 'concurrency'),
    retry: resolveRetry(o.retry, 'createBatchProcessor'),
    maxPending: positiveInt(o.maxPending ?? 100_000, 'maxPending'),
    whenFull,
    clock: o.clock as Clock | undefined,
  })
}
