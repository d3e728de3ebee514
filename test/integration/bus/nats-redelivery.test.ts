/**
 * Redeliveries within one live consumer: a loop held past ackWait (a long synchronous handler, a
 * starved process) lets JetStream hand the consumer's queued messages to it a second time while
 * their first copies still wait in its batches. An idempotent batch handler must not run a
 * message whose first copy already ran.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { Redis } from 'ioredis'
import { createBus, natsTransport } from '../../../src/bus/index.js'
import {
  cleanupNats,
  cleanupPrefix,
  NATS_URL,
  REDIS_URL,
  uniquePrefix,
  uniqueStream,
} from '../../helpers/services.js'
import { until } from './conformance.js'
import { countEffects, effectCounts } from './effects.js'

// Regression: the processed-set was checked when a message joined a batch, not when its batch
// ran. Copies redelivered while their first copies were still queued passed the check, and both
// ran: a CI run counted 189 repeated side effects in the kill -9 test, whose bound is one batch.
it('a redelivery of a message still queued in this consumer does not run its idempotent batch twice', {
  timeout: 60_000,
}, async (t) => {
  const N = 400
  const stream = uniqueStream('natsredeliver')
  const prefix = uniquePrefix('nats-redeliver')
  const effects = `${prefix}effects`
  const redis = new Redis(REDIS_URL)
  const transport = natsTransport({ servers: NATS_URL, stream, ackWait: 300, maxAckPending: 10_000 })
  try {
    const bus = createBus({ name: 'redeliver', transport, maxQueued: 10_000 })
    const count = countEffects(redis, effects)
    let held = false
    bus.onBatch(
      'job',
      async (messages) => {
        await count(messages)
        if (!held) {
          // the loop is held three ackWaits: the heartbeat cannot keep the queued messages
          held = true
          const until = Date.now() + 900
          while (Date.now() < until) {}
        }
      },
      { maxSize: 50, maxWait: 20, idempotent: true },
    )
    await bus.whenReady()
    await Promise.all(Array.from({ length: N }, (_, i) => bus.send('redeliver', 'job', i)))
    await until(async () => (await redis.hlen(effects)) === N, 30_000, `all ${N} side effects`)
    // the redelivered copies drain too
    await until(() => bus.stats().queued === 0, 30_000, 'the queue to drain')
    await new Promise((r) => setTimeout(r, 500))
    const { handled, repeated } = await effectCounts(redis, effects)
    const s = bus.stats()
    t.diagnostic(
      `redeliveries ${s.redeliveries}, processed-set hits ${s.processedHits}, repeated ${repeated}`,
    )
    assert.equal(handled, N)
    assert.ok(s.redeliveries > 0, 'the held loop caused redeliveries (else this test proves nothing)')
    assert.equal(repeated, 0, `${repeated} side effects ran twice`)
    await bus.close()
  } finally {
    await transport.close()
    await cleanupPrefix(prefix)
    redis.disconnect()
    await cleanupNats(stream)
  }
})
