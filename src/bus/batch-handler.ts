/**
 * The batch processor behind `bus.onBatch()`: one per handler, batches per batch key, the
 * handler's view of a batch (messages, `fail(message, err)`, payloads), and the batch counters.
 */

import type { Message, MessageBatchHandler } from './api.js'
import { BatchProcessor } from './batch-processor.js'
import type { BatchHandlerOptions, ResolvedBusOptions } from './options.js'
import type { BusCounters } from './stats.js'
import type { Envelope } from './types.js'

/**
 * Makes the processor of a batch handler. `mark` (idempotent handlers) records a message's side
 * effect as done: it runs for every message the batch did not fail, before the batch counts as
 * finished, so the next batch cannot start while this one's marks are still in flight (a kill
 * then repeats at most the batch that was running).
 */
export function batchProcessorFor<T>(
  handler: MessageBatchHandler<T>,
  options: BatchHandlerOptions,
  bus: ResolvedBusOptions,
  c: BusCounters,
  mark?: (env: Envelope) => Promise<void>,
): BatchProcessor<Envelope> {
  return new BatchProcessor<Envelope>({
    handler: async (envs, b) => {
      c.batches++
      if (envs.length > c.maxBatchSize) c.maxBatchSize = envs.length
      if (b.lateness > c.maxBatchLatenessMs) c.maxBatchLatenessMs = b.lateness
      const index = new Map<Message, number>()
      for (let i = 0; i < envs.length; i++) index.set(envs[i] as Message, i)
      const failed = new Set<number>()
      await handler(envs as Message[], {
        key: b.key,
        fail: (m, err) => {
          const i = index.get(m)
          if (i === undefined) throw new RangeError('fail(message): the message is not in this batch')
          failed.add(i)
          b.fail(i, err)
        },
        payloads: () => envs.map((e) => e.payload as T),
      })
      if (mark !== undefined) await Promise.all(envs.filter((_, i) => !failed.has(i)).map(mark))
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
