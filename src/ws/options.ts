/**
 * The batcher's options: declared with their defaults, resolved once (validated, frozen) and
 * shareable by every connection: `batched(socket, options)` resolves a plain object on each call
 * but takes an already resolved one as is, so a server resolves once with
 * `resolveBatchedOptions()` and hands the result to every connection.
 */
import type { EventLoopSource, Monitor } from '../metrics/index.js'
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, systemClock, toTimerMs } from '../time.js'
import type { WireFormat } from './codec.js'

/** How long a batch may wait for more messages. */
export type BatchWindow = 'turn' | 'adaptive' | Duration

/** Options of `batched()` and `broadcaster()`. */
export interface BatchedOptions<T = unknown> {
  /** Messages per frame under normal load; a queue that reaches it is written at once. @default 10 */
  maxBatch?: number
  /** The range the adaptive batch size moves in (widening toward the top under load). @default [2, 50] */
  batchRange?: readonly [number, number]
  /** Bytes per frame: a queue that reaches it is written at once (JSON: UTF-16 code units). @default 65536 */
  maxBytes?: number
  /**
   * How long a message may wait: `'turn'` flushes at the end of the current I/O turn
   * (setImmediate); `'adaptive'` does the same until the event loop is loaded, then widens the
   * window toward `maxWait`; a duration is a fixed window (the seeds' behaviour).
   * @default 'adaptive'
   */
  window?: BatchWindow
  /** The widest adaptive window. @default '100ms' */
  maxWait?: Duration
  /** A message with `priority` at or above this flushes the queue at once (queued messages first). @default 10 */
  priorityThreshold?: number
  /** Combines a pending message with a newer one of the same key. @default the newer one wins */
  merge?: ((previous: T, next: T, key: string) => T) | undefined
  /** Above this many bytes buffered in the socket the batcher stops writing and conflates. @default 262144 */
  highWatermark?: number
  /** Writing resumes when the socket's buffer drains below this. @default 65536 */
  lowWatermark?: number
  /** Socket buffer plus queue above this closes the connection with 1008. @default 1048576 */
  maxBuffered?: number
  /** Staying above the high watermark this long closes the connection with 1013. @default '30s' */
  maxStall?: Duration
  /** Wire format: a JSON array per text frame, or a msgpack array per binary frame. @default 'json' */
  format?: WireFormat
  /** Metrics go into this monitor (hotpath/metrics); its event-loop sampler drives the adaptive window. @default none */
  monitor?: Monitor | undefined
  /** Where load is read when no monitor is given. @default one private sampler per process */
  eventLoop?: EventLoopSource | undefined
  /** Label of this batcher's metrics (one series per name, never per connection). @default 'ws' */
  name?: string
  /** Timers (the window and the stall poll). @default systemClock */
  clock?: Clock
}

/** Resolved, frozen options. */
export interface ResolvedBatchedOptions<T = unknown> {
  readonly maxBatch: number
  readonly minBatch: number
  readonly topBatch: number
  readonly maxBytes: number
  /** -1: end of turn; -2: adaptive; >= 0: fixed window in ms. */
  readonly windowMs: number
  readonly maxWaitMs: number
  readonly priorityThreshold: number
  readonly merge: ((previous: T, next: T, key: string) => T) | undefined
  readonly highWatermark: number
  readonly lowWatermark: number
  readonly maxBuffered: number
  readonly maxStallMs: number
  readonly format: WireFormat
  readonly monitor: Monitor | undefined
  readonly eventLoop: EventLoopSource | undefined
  readonly name: string
  readonly clock: Clock
}

/** `windowMs` for `'turn'`. */
export const WINDOW_TURN = -1
/** `windowMs` for `'adaptive'`. */
export const WINDOW_ADAPTIVE = -2

const KNOWN = [
  'maxBatch',
  'batchRange',
  'maxBytes',
  'window',
  'maxWait',
  'priorityThreshold',
  'merge',
  'highWatermark',
  'lowWatermark',
  'maxBuffered',
  'maxStall',
  'format',
  'monitor',
  'eventLoop',
  'name',
  'clock',
]

const resolved = new WeakSet<object>()

function positiveInt(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`hotpath/ws: ${option} must be an integer >= 1; received ${String(value)}`)
  }
  return value
}

/** Validates options, applies the defaults, freezes. Throws TypeError/RangeError naming the option. */
export function resolveBatchedOptions<T = unknown>(
  options: BatchedOptions<T> | ResolvedBatchedOptions<T> = {},
): ResolvedBatchedOptions<T> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('hotpath/ws: options must be an object')
  }
  if (resolved.has(options)) return options as ResolvedBatchedOptions<T>
  const o = options as BatchedOptions<T>
  assertKnownKeys(o, KNOWN, 'hotpath/ws options')
  const range = o.batchRange ?? [2, 50]
  if (!Array.isArray(range) || range.length !== 2) {
    throw new TypeError(`hotpath/ws: batchRange must be [min, max]; received ${JSON.stringify(range)}`)
  }
  const minBatch = positiveInt(range[0], 'batchRange[0]')
  const topBatch = positiveInt(range[1], 'batchRange[1]')
  if (minBatch > topBatch)
    throw new RangeError(`hotpath/ws: batchRange [${minBatch}, ${topBatch}] is reversed`)
  const maxBatch = positiveInt(o.maxBatch ?? 10, 'maxBatch')
  if (maxBatch < minBatch || maxBatch > topBatch) {
    throw new RangeError(
      `hotpath/ws: maxBatch (${maxBatch}) must lie inside batchRange [${minBatch}, ${topBatch}]`,
    )
  }
  const w = o.window ?? 'adaptive'
  const windowMs = w === 'turn' ? WINDOW_TURN : w === 'adaptive' ? WINDOW_ADAPTIVE : toTimerMs(w, 'window')
  const highWatermark = positiveInt(o.highWatermark ?? 256 * 1024, 'highWatermark')
  const lowWatermark = o.lowWatermark ?? Math.min(64 * 1024, highWatermark)
  if (typeof lowWatermark !== 'number' || !(lowWatermark >= 0) || lowWatermark > highWatermark) {
    throw new RangeError(
      `hotpath/ws: lowWatermark must be a number between 0 and highWatermark (${highWatermark}); received ${String(lowWatermark)}`,
    )
  }
  const maxBuffered = positiveInt(o.maxBuffered ?? 1024 * 1024, 'maxBuffered')
  if (maxBuffered < highWatermark) {
    throw new RangeError(
      `hotpath/ws: maxBuffered (${maxBuffered}) must be at least highWatermark (${highWatermark})`,
    )
  }
  const priorityThreshold = o.priorityThreshold ?? 10
  if (typeof priorityThreshold !== 'number' || Number.isNaN(priorityThreshold)) {
    throw new TypeError(
      `hotpath/ws: priorityThreshold must be a number; received ${String(priorityThreshold)}`,
    )
  }
  if (o.merge !== undefined && typeof o.merge !== 'function') {
    throw new TypeError('hotpath/ws: merge must be a function (previous, next, key) => merged')
  }
  const format = o.format ?? 'json'
  if (format !== 'json' && format !== 'msgpack') {
    throw new RangeError(`hotpath/ws: format must be 'json' or 'msgpack'; received ${JSON.stringify(format)}`)
  }
  const monitor = o.monitor
  if (
    monitor !== undefined &&
    (monitor === null || typeof (monitor as { attach?: unknown }).attach !== 'function')
  ) {
    throw new TypeError(
      `hotpath/ws: monitor must be a monitor from hotpath/metrics (createMonitor()); received ${String(monitor)}`,
    )
  }
  const eventLoop = o.eventLoop ?? monitor?.eventLoop
  if (eventLoop !== undefined && typeof eventLoop.retain !== 'function') {
    throw new TypeError('hotpath/ws: eventLoop must be an event-loop sampler (createEventLoopSampler())')
  }
  const name = o.name ?? 'ws'
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`hotpath/ws: name must be a non-empty string; received ${JSON.stringify(name)}`)
  }
  const clock = o.clock ?? systemClock
  const c = clock as Partial<Record<keyof Clock, unknown>> | null
  if (
    c === null ||
    typeof c !== 'object' ||
    typeof c.now !== 'function' ||
    typeof c.setTimeout !== 'function' ||
    typeof c.setBackgroundTimeout !== 'function' ||
    typeof c.clearTimeout !== 'function'
  ) {
    throw new TypeError(
      `hotpath/ws: clock must have now, setTimeout, setBackgroundTimeout and clearTimeout; received ${String(clock)}`,
    )
  }
  const out: ResolvedBatchedOptions<T> = Object.freeze({
    maxBatch,
    minBatch,
    topBatch,
    maxBytes: positiveInt(o.maxBytes ?? 64 * 1024, 'maxBytes'),
    windowMs,
    maxWaitMs: toTimerMs(o.maxWait ?? '100ms', 'maxWait'),
    priorityThreshold,
    merge: o.merge,
    highWatermark,
    lowWatermark,
    maxBuffered,
    maxStallMs: toTimerMs(o.maxStall ?? '30s', 'maxStall'),
    format,
    monitor,
    eventLoop,
    name,
    clock,
  })
  resolved.add(out)
  return out
}
