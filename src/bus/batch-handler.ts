/**
 * The batch processor behind `bus.onBatch()`: one per handler, batches per batch key, the
 * handler's view of a batch (messages, `fail(message, err)`, payloads), and the batch counters.
 */

import type { Message, MessageBatchHandler } from './api.js'
import { BatchProcessor } from './batch-processor.js'
import { processedKeyOf } from './envelope.js'
import type { BatchHandlerOptions, ResolvedBusOptions } from './options.js'
import type { BusCounters } from './stats.js'
import type { Envelope } from './types.js'

/**
 * What an idempotent batch handler needs: the processed-set check and mark (by the message's
 * dedup key, else its id), and where the messages it acknowledged without running go (the bus
 * acks them as processed-set hits).
 */
export interface BatchIdempotency {
  isProcessed(key: string): Promise<boolean>
  mark(key: string): Promise<void>
  skipped: WeakSet<Envelope>
}

/** An idempotent batch sorted out: the messages to run (and their indices), and the later copies. */
interface Split {
  keys: string[]
  run: Envelope[]
  /** Index in the batch of each message in `run`. */
  at: number[]
  /** Index of a later copy of a message in this batch -> index of its first copy. */
  copies: Map<number, number>
}

/** Checks the processed-set for a batch now; processed messages go to `skipped`. */
async function split(envs: Envelope[], idem: BatchIdempotency): Promise<Split> {
  const keys = envs.map(processedKeyOf)
  const done = await Promise.all(keys.map((k) => idem.isProcessed(k)))
  const s: Split = { keys, run: [], at: [], copies: new Map() }
  const first = new Map<string, number>()
  for (let i = 0; i < envs.length; i++) {
    const key = keys[i] as string
    const f = first.get(key)
    if (done[i]) idem.skipped.add(envs[i] as Envelope)
    else if (f !== undefined) s.copies.set(i, f)
    else {
      first.set(key, i)
      s.run.push(envs[i] as Envelope)
      s.at.push(i)
    }
  }
  return s
}

/**
 * Makes the processor of a batch handler. With `idem` (idempotent handlers) a batch checks the
 * processed-set when it starts, not when its messages joined it: a copy JetStream redelivered
 * while its first copy still waited here (a loop held past ackWait) is then found done and
 * acknowledged without running. Two copies in one batch run once; the second shares the
 * first's outcome. The marks are written for every message the batch did not fail, before the
 * batch counts as finished, so the next batch cannot start while they are in flight (a kill then
 * repeats at most the batch that was running).
 */
export function batchProcessorFor<T>(
  handler: MessageBatchHandler<T>,
  options: BatchHandlerOptions,
  bus: ResolvedBusOptions,
  c: BusCounters,
  idem?: BatchIdempotency,
): BatchProcessor<Envelope> {
  return new BatchProcessor<Envelope>({
    handler: async (envs, b) => {
      const s = idem === undefined ? undefined : await split(envs, idem)
      const run = s?.run ?? envs
      if (run.length === 0) return
      c.batches++
      if (run.length > c.maxBatchSize) c.maxBatchSize = run.length
      if (b.lateness > c.maxBatchLatenessMs) c.maxBatchLatenessMs = b.lateness
      const index = new Map<Message, number>()
      for (let i = 0; i < run.length; i++) index.set(run[i] as Message, s?.at[i] ?? i)
      const failed = new Map<number, unknown>()
      await handler(run as Message[], {
        key: b.key,
        fail: (m, err) => {
          const i = index.get(m)
          if (i === undefined) throw new RangeError('fail(message): the message is not in this batch')
          failed.set(i, err)
          b.fail(i, err)
        },
        payloads: () => run.map((e) => e.payload as T),
      })
      if (s === undefined || idem === undefined) return
      for (const [i, f] of s.copies) {
        if (failed.has(f)) b.fail(i, failed.get(f))
        else idem.skipped.add(envs[i] as Envelope)
      }
      await Promise.all(s.at.filter((i) => !failed.has(i)).map((i) => idem.mark(s.keys[i] as string)))
    },
    maxSize: options.maxSize ?? 100,
    maxWait: options.maxWait ?? '100ms',
    maxBytes: options.maxBytes ?? Number.POSITIVE_INFINITY,
    sizeOf: (e) => JSON.stringify(e.payload)?.length ?? 0,
    concurrency: options.concurrency ?? 1,
    // the bus retries (through the transport, durably): the processor reports each failure once
    retry: false,
    maxPending: bus.maxQueued,
    clock: bus.clock,
  })
}
