/**
 * The batchers' figures: plain numbers bumped on the send path (one set per monitor and `name`,
 * shared by every connection, so a thousand sockets make one series, not a thousand), turned into
 * Prometheus series only when the registry is read (the monitor's live metrics).
 */
import type { Disposer } from '../events.js'
import type { AdapterContext, Attachment, Monitor } from '../metrics/index.js'
import type { Instrumentable } from '../types.js'

/** Upper bounds of the batch-size histogram (messages per frame). */
export const BATCH_BOUNDS = [1, 2, 5, 10, 20, 50, 100, 200, 500] as const
/** Upper bounds of the added-latency histogram (seconds the oldest message of a frame waited). */
export const LATENCY_BOUNDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const

/** What a connection reports about its buffers. */
export interface BufferReader {
  /** Bytes in the socket's buffer plus bytes queued in the batcher. */
  readonly bufferedBytes: number
}

/** A plain snapshot of the figures of one batcher name. */
export interface WsStats {
  /** Messages written (inside frames). */
  messages: number
  /** Frames written (socket writes). */
  frames: number
  /** Pending messages replaced by a newer one of the same key. */
  conflated: number
  /** Messages not delivered: volatile ones under backpressure, and what a closed connection still held. */
  dropped: number
  /** Connections closed because they stayed too slow (1008 over maxBuffered, 1013 over maxStall). */
  closedForBackpressure: number
  /** Open connections. */
  connections: number
  /** Bytes buffered in sockets and queues of the open connections. */
  bufferedBytes: number
}

/** The shared figures of one batcher name (an `Instrumentable` for the monitor). */
export class WsCounters implements Instrumentable {
  readonly kind = 'ws'
  messages = 0
  frames = 0
  conflated = 0
  dropped = 0
  closedForBackpressure = 0
  readonly batchBuckets = new Float64Array(BATCH_BOUNDS.length)
  batchSum = 0
  readonly latencyBuckets = new Float64Array(LATENCY_BOUNDS.length)
  latencySum = 0
  readonly open = new Set<BufferReader>()

  constructor(readonly name: string) {}

  /** Counts one frame of `size` messages whose oldest waited `waitedMs`. */
  frame(size: number, waitedMs: number): void {
    this.frames++
    this.messages += size
    this.batchSum += size
    let i = 0
    while (i < BATCH_BOUNDS.length && size > (BATCH_BOUNDS[i] as number)) i++
    if (i < BATCH_BOUNDS.length) (this.batchBuckets[i] as number)++
    const s = waitedMs / 1000
    this.latencySum += s
    i = 0
    while (i < LATENCY_BOUNDS.length && s > (LATENCY_BOUNDS[i] as number)) i++
    if (i < LATENCY_BOUNDS.length) (this.latencyBuckets[i] as number)++
  }

  /** Bytes buffered by the open connections. */
  bufferedBytes(): number {
    let sum = 0
    for (const c of this.open) sum += c.bufferedBytes
    return sum
  }

  on(): Disposer {
    return () => {}
  }

  stats(): WsStats {
    return {
      messages: this.messages,
      frames: this.frames,
      conflated: this.conflated,
      dropped: this.dropped,
      closedForBackpressure: this.closedForBackpressure,
      connections: this.open.size,
      bufferedBytes: this.bufferedBytes(),
    }
  }
}

type Out = { value: number; labels: Record<string, string | number>; metricName?: string }

function histogram(
  out: Out[],
  name: string,
  labels: Record<string, string>,
  bounds: readonly number[],
  counts: Float64Array,
  count: number,
  sum: number,
): void {
  let acc = 0
  for (let i = 0; i < bounds.length; i++) {
    acc += counts[i] as number
    out.push({ value: acc, labels: { ...labels, le: bounds[i] as number }, metricName: `${name}_bucket` })
  }
  out.push({ value: count, labels: { ...labels, le: '+Inf' }, metricName: `${name}_bucket` })
  out.push({ value: sum, labels, metricName: `${name}_sum` })
  out.push({ value: count, labels, metricName: `${name}_count` })
}

function wsAdapter(source: Instrumentable, ctx: AdapterContext): Attachment {
  const c = source as WsCounters
  const labels = { name: c.name }
  const p = ctx.prefix
  const scalar = (metric: string, help: string, type: 'counter' | 'gauge', read: () => number) =>
    ctx.live(`${p}${metric}`, help, type).add((out) => out.push({ value: read(), labels }))
  const batchName = `${p}ws_batch_size`
  const latencyName = `${p}ws_added_latency_seconds`
  const removers = [
    scalar('ws_messages_total', 'WebSocket messages written', 'counter', () => c.messages),
    scalar('ws_frames_total', 'WebSocket frames written (socket writes)', 'counter', () => c.frames),
    scalar(
      'ws_conflated_total',
      'Pending messages replaced by a newer one of the same key',
      'counter',
      () => c.conflated,
    ),
    scalar(
      'ws_dropped_total',
      'Messages not delivered (volatile under backpressure, closed connections)',
      'counter',
      () => c.dropped,
    ),
    scalar(
      'ws_backpressure_closes_total',
      'Connections closed for staying too slow',
      'counter',
      () => c.closedForBackpressure,
    ),
    scalar('ws_connections', 'Open batched connections', 'gauge', () => c.open.size),
    scalar('ws_buffered_bytes', 'Bytes buffered in sockets and batch queues', 'gauge', () =>
      c.bufferedBytes(),
    ),
    ctx
      .live(batchName, 'Messages per WebSocket frame', 'histogram')
      .add((out) => histogram(out, batchName, labels, BATCH_BOUNDS, c.batchBuckets, c.frames, c.batchSum)),
    ctx
      .live(latencyName, 'Time the oldest message of a frame waited in the queue', 'histogram')
      .add((out) =>
        histogram(out, latencyName, labels, LATENCY_BOUNDS, c.latencyBuckets, c.frames, c.latencySum),
      ),
  ]
  return {
    collect() {},
    dispose() {
      for (const r of removers) r()
    },
  }
}

const unmonitored = {}
const byOwner = new WeakMap<object, Map<string, WsCounters>>()

/** The shared figures of `name` (in `monitor`, attached on first use). */
export function countersFor(monitor: Monitor | undefined, name: string): WsCounters {
  const owner = monitor ?? unmonitored
  let names = byOwner.get(owner)
  if (names === undefined) {
    names = new Map()
    byOwner.set(owner, names)
    monitor?.registerAdapter('ws', wsAdapter)
  }
  let c = names.get(name)
  if (c === undefined) {
    c = new WsCounters(name)
    names.set(name, c)
    monitor?.attach(c)
  }
  return c
}
