/**
 * Data written by someone else onto the bus's Redis keys and NATS subjects (not valid JSON, the
 * wrong shape): it must not crash the process, kill a connection or stall a consumer.
 */
import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { connect } from 'nats'
import { createBus, natsTransport, redisTransport } from '../../../src/bus/index.js'
import { cleanupNats, NATS_URL, redisScope, uniqueStream } from '../../helpers/services.js'

const scope = redisScope()
const streams: string[] = []
after(async () => {
  await scope.close()
  for (const s of streams) await cleanupNats(s)
})

/** Uncaught exceptions while `fn` runs (the listener keeps the test process alive to report them). */
async function uncaughtDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = []
  const listener = (err: Error) => seen.push(err.message)
  process.on('uncaughtException', listener)
  try {
    await fn()
  } finally {
    process.off('uncaughtException', listener)
  }
  return seen
}

it('regression: a forged reply on a Redis bus reply channel (not JSON, or null) threw an uncaught exception, crashing the requesting process', async () => {
  const redis = scope.client()
  const prefix = scope.prefix('hostile-reply')
  const t = redisTransport({ redis, prefix, block: 100 })
  const a = createBus({ name: 'a', transport: t })
  const b = createBus({ name: 'b', transport: t })
  b.on('q', (x: number) => x + 1)
  try {
    await Promise.all([a.whenReady(), b.whenReady()])
    const other = scope.client()
    const channel = `${prefix}r:${a.inbox}`
    const uncaught = await uncaughtDuring(async () => {
      for (const body of ['not json', 'null', '42', '{"corr":5,"ok":true}']) {
        assert.equal(await other.publish(channel, body), 1, 'the forged reply reached the bus')
      }
      await new Promise((r) => setTimeout(r, 100))
    })
    assert.deepEqual(uncaught, [], 'no uncaught exception')
    assert.equal(await a.request('b', 'q', 1, { timeout: 3000 }), 2, 'requests still work')
  } finally {
    await a.close()
    await b.close()
    await t.close()
  }
})

it("regression: a forged reply on a NATS bus reply subject that was not JSON threw in the subscription callback and closed the transport's connection (every later send, request and consume failed)", async () => {
  const stream = uniqueStream('hostilereply')
  streams.push(stream)
  const t = natsTransport({ servers: NATS_URL, stream, storage: 'memory' })
  const a = createBus({ name: 'a', transport: t })
  const b = createBus({ name: 'b', transport: t })
  b.on('q', (x: number) => x + 1)
  const nc = await connect({ servers: NATS_URL })
  try {
    await Promise.all([a.whenReady(), b.whenReady()])
    const bytes = new TextEncoder()
    for (const body of ['not json', 'null', '{"corr":5,"ok":true}'])
      nc.publish(t.names.reply(a.inbox), bytes.encode(body))
    // the max-deliveries advisory subject is open to any client too
    nc.publish(t.names.maxDeliveries.replace('*', 'x'), bytes.encode('not json'))
    await nc.flush()
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(t.health().connection, 'connected', 'the connection is still up')
    assert.equal(await a.request('b', 'q', 1, { timeout: 3000 }), 2, 'requests still work')
  } finally {
    await nc.close()
    await a.close()
    await b.close()
    await t.close()
  }
})
