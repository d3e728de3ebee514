import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Message } from '../../../src/bus/api.js'
import { type BatchIdempotency, batchProcessorFor } from '../../../src/bus/batch-handler.js'
import { processedKeyOf } from '../../../src/bus/envelope.js'
import { resolveBusOptions } from '../../../src/bus/options.js'
import { BusCounters } from '../../../src/bus/stats.js'
import type { Envelope } from '../../../src/bus/types.js'

const env = (id: string, payload: unknown = id): Envelope => ({
  id,
  to: 'b',
  type: 'job',
  payload,
  p: 2,
  attempt: 1,
  sentAt: 0,
  queuedAt: 0,
})

/** The processed-set key of message `id`. */
const key = (id: string) => processedKeyOf(env(id))

/** An idempotent batch processor over a processed-set `done`; `handler` sees each batch's messages. */
function processor(
  done: Set<string>,
  handler: (ms: Message[], fail: (m: Message, e: unknown) => void) => void,
) {
  const idem: BatchIdempotency = {
    isProcessed: async (key) => done.has(key),
    mark: async (key) => {
      done.add(key)
    },
    skipped: new WeakSet(),
  }
  const p = batchProcessorFor(
    async (ms, b) => handler(ms, (m, e) => b.fail(m, e)),
    { maxSize: 10, maxWait: 5 },
    resolveBusOptions({}),
    new BusCounters(),
    idem,
  )
  const outcome = (e: Envelope) =>
    p.add(e, '').then(
      () => (idem.skipped.has(e) ? 'skipped' : 'ok'),
      (err: unknown) => `failed: ${(err as Error).message}`,
    )
  return { outcome }
}

describe('idempotent batches', () => {
  test('a message already processed when its batch starts is skipped, not run', async () => {
    const done = new Set([key('a')])
    const ran: unknown[] = []
    const { outcome } = processor(done, (ms) => ran.push(...ms.map((m) => m.payload)))
    const out = await Promise.all([outcome(env('a')), outcome(env('b'))])
    assert.deepEqual(out, ['skipped', 'ok'])
    assert.deepEqual(ran, ['b'])
    assert.ok(done.has(key('b')), 'the run message was marked')
  })

  test('two copies of one message in one batch run once; the copy shares the outcome', async () => {
    const ran: unknown[] = []
    const { outcome } = processor(new Set(), (ms) => ran.push(...ms.map((m) => m.id)))
    const out = await Promise.all([outcome(env('a')), outcome(env('b')), outcome(env('a'))])
    assert.deepEqual(ran, ['a', 'b'])
    assert.deepEqual(out, ['ok', 'ok', 'skipped'])
  })

  test('a copy of a message the batch failed fails with the same error, and neither is marked', async () => {
    const done = new Set<string>()
    const { outcome } = processor(done, (ms, fail) => {
      for (const m of ms) if (m.id === 'a') fail(m, new Error('boom'))
    })
    const out = await Promise.all([outcome(env('a')), outcome(env('a')), outcome(env('b'))])
    assert.deepEqual(out, ['failed: boom', 'failed: boom', 'ok'])
    assert.deepEqual([...done], [key('b')])
  })

  test('a batch whose every message is processed does not call the handler', async () => {
    let calls = 0
    const { outcome } = processor(new Set([key('a'), key('b')]), () => calls++)
    assert.deepEqual(await Promise.all([outcome(env('a')), outcome(env('b'))]), ['skipped', 'skipped'])
    assert.equal(calls, 0)
  })
})
