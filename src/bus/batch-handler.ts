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
 * What an idempotent batch handler needs: the processed-set check, the mark, and where the
 * messages it acknowledged without running go (the bus acks them as processed-set hits).
 */
export interface BatchIdempotency {
  isProcessed(env: Envelope): Promise<boolean>
  mark(env: Envelope): Promise<void>
  skipped: WeakSet<Envelope>
}

const keyOf = (e: Envelope): string => e.dedupKey ?? e.id

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
      let run = envs
      // index in `envs` of the first copy of each later copy (same key, one batch)
      let copies: Map<number, number> | undefined
      if (idem !== undefined) {
        const done = await Promise.all(envs.map((e) => idem.isProcessed(e)))
        const first = new Map<string, number>()
        run = []
        for (let i = 0; i < envs.length; i++) {
          const e = envs[i] as Envelope
          const at = first.get(keyOf(e))
          if (done[i]) idem.skipped.add(e)
          else if (at !== undefined) {
            copies ??= new Map()
            copies.set(i, at)
          } else {
            first.set(keyOf(e), i)
            run.push(e)
          }
        }
        if (run.length === 0) return
      }
      c.batches++
      if (run.length > c.maxBatchSize) c.maxBatchSize = run.length
      if (b.lateness > c.maxBatchLatenessMs) c.maxBatchLatenessMs = b.lateness
      const index = new Map<Message, number>()
      for (let i = 0; i < envs.length; i++) index.set(envs[i] as Message, i)
      const failed = new Map<number, unknown>()
      await handler(run as Message[], {
        key: b.key,
        fail: (m, err) => {
          const i = index.get(m)
          if (i === undefined || (copies?.has(i) ?? false))
            throw new RangeError('fail(message): the message is not in this batch')
          failed.set(i, err)
          b.fail(i, err)
        },
        payloads: () => run.map((e) => e.payload as T),
      })
      if (copies !== undefined) {
        for (const [i, at] of copies) {
          if (failed.has(at)) b.fail(i, failed.get(at))
          else idem?.skipped.add(envs[i] as Envelope)
        }
      }
      if (idem !== undefined) {
        await Promise.all(
          run.filter((e) => !failed.has(index.get(e as Message) as number)).map((e) => idem.mark(e)),
        )
      }
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
