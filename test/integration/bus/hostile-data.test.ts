/**
 * Data written by someone else onto the bus's Redis keys and NATS subjects (not valid JSON, the
 * wrong shape): it must not crash the process, kill a connection or stall a consumer.
 */
import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { connect } from 'nats'
import { createBus, NonRetryableError, natsTransport, redisTransport } from '../../../src/bus/index.js'
import { cleanupNats, NATS_URL, redisScope, uniqueStream, waitUntil } from '../../helpers/services.js'

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

it('regression: a stream entry on a Redis bus stream that was not a message (not JSON, null, wrong shape, a pack that is no array) threw in the read loop: the messages read with it were never handled, its take-over failed each sweep, and close() could hang', async () => {
  const redis = scope.client()
  const prefix = scope.prefix('hostile-entry')
  const t = redisTransport({ redis, prefix, block: 100, claimIdle: 500 })
  const sender = createBus({ name: 's', transport: t })
  const stream = `${prefix}{w}:s2`
  const bad: Array<[string, string]> = [
    ['m', 'not json'],
    ['m', 'null'],
    ['m', '{}'],
    [
      'm',
      JSON.stringify({ id: 'x', to: 'w', type: 'job', payload: 1, p: 9, attempt: 1, sentAt: 1, queuedAt: 1 }),
    ],
    ['b', '{"a":1}'],
    [
      'b',
      JSON.stringify([
        null,
        { id: 'ok', to: 'w', type: 'job', payload: 99, p: 2, attempt: 1, sentAt: 1, queuedAt: 1 },
      ]),
    ],
  ]
  await redis.xgroup('CREATE', stream, 'hp', '0', 'MKSTREAM')
  for (let i = 0; i < 3; i++) await sender.send('w', 'job', i)
  for (const [f, v] of bad) await redis.xadd(stream, '*', f, v)
  for (let i = 3; i < 6; i++) await sender.send('w', 'job', i)
  const handled: number[] = []
  const worker = createBus({ name: 'w', transport: t })
  worker.on('job', (n: number) => {
    handled.push(n)
  })
  try {
    await waitUntil(
      "the six messages and the pack's good one to be handled",
      () => handled.length === 7,
      5000,
    )
    assert.deepEqual(
      handled.sort((x, y) => x - y),
      [0, 1, 2, 3, 4, 5, 99],
    )
    await waitUntil('the stream to be empty', async () => (await redis.xlen(stream)) === 0, 3000)
    const letters = await worker.deadLetters({ to: 'w' })
    assert.equal(letters.length, 6, 'each malformed message is a dead letter')
    assert.ok(letters.every((d) => d.reason === 'invalid'))
  } finally {
    await Promise.race([
      (async () => {
        await worker.close()
        await sender.close()
        await t.close()
      })(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('close() hung')), 5000)),
    ])
  }
})

it('regression: a message on a NATS bus subject that was not a message was never settled: one of the wrong shape was held for good (the heartbeat kept it, taking a maxAckPending slot), one not JSON was redelivered until maxDeliver and then stayed in the stream', async () => {
  const stream = uniqueStream('hostilemsg')
  streams.push(stream)
  const t = natsTransport({ servers: NATS_URL, stream, storage: 'memory', ackWait: 1000, maxDeliver: 3 })
  const handled: number[] = []
  const worker = createBus({ name: 'w', transport: t })
  worker.on('job', (n: number) => {
    handled.push(n)
  })
  const nc = await connect({ servers: NATS_URL })
  try {
    await worker.whenReady()
    const js = nc.jetstream()
    const bytes = new TextEncoder()
    const bad = [
      'not json',
      'null',
      '{}',
      JSON.stringify({ id: 'x', to: 'w', type: 'job', payload: 1, p: 9, attempt: 1, sentAt: 1, queuedAt: 1 }),
    ]
    for (const body of bad) await js.publish(t.names.message('w', 2), bytes.encode(body))
    for (let i = 0; i < 3; i++) await worker.send('w', 'job', i)
    await waitUntil('the good messages to be handled', () => handled.length === 3, 5000)
    await waitUntil(
      'the stream to be empty',
      async () => (await worker.queues()).normal === 0 && t.held === 0,
      5000,
    )
    const letters = await worker.deadLetters({ to: 'w' })
    assert.equal(letters.length, 4, 'each malformed message is a dead letter')
    assert.ok(letters.every((d) => d.reason === 'invalid'))
  } finally {
    await nc.close()
    await worker.close()
    await t.close()
  }
})

it("regression: an entry on a Redis bus's dead-letter stream that was not a dead letter made deadLetters() and replay() throw for good", async () => {
  const redis = scope.client()
  const prefix = scope.prefix('hostile-dlq')
  const t = redisTransport({ redis, prefix, block: 100 })
  const w = createBus({ name: 'w', transport: t })
  w.on('job', () => {
    throw new NonRetryableError('no')
  })
  try {
    await w.whenReady()
    await w.send('w', 'job', 1)
    await waitUntil('the dead letter', async () => (await w.deadLetters()).length === 1)
    for (const body of ['not json', 'null', '{"id":"x"}'])
      await redis.xadd(`${prefix}{w}:dlq`, '*', 'd', body)
    const letters = await w.deadLetters()
    assert.deepEqual(
      letters.map((d) => [d.envelope.type, d.reason]),
      [['job', 'non-retryable']],
      'the real dead letter, and nothing else',
    )
    assert.equal(await w.replay({ type: 'job' }), 1)
  } finally {
    await w.close()
    await t.close()
  }
})

it("regression: a message on a NATS bus's dead-letter subject that was not a dead letter made deadLetters() and replay() throw for good", async () => {
  const stream = uniqueStream('hostiledlq')
  streams.push(stream)
  const t = natsTransport({ servers: NATS_URL, stream, storage: 'memory' })
  const w = createBus({ name: 'w', transport: t })
  w.on('job', () => {
    throw new NonRetryableError('no')
  })
  const nc = await connect({ servers: NATS_URL })
  try {
    await w.whenReady()
    await w.send('w', 'job', 1)
    await waitUntil('the dead letter', async () => (await w.deadLetters()).length === 1)
    const bytes = new TextEncoder()
    for (const body of ['not json', 'null', '{"id":"x"}']) nc.publish(t.names.dlq('w'), bytes.encode(body))
    await nc.flush()
    await new Promise((r) => setTimeout(r, 100))
    const letters = await w.deadLetters()
    assert.deepEqual(
      letters.map((d) => [d.envelope.type, d.reason]),
      [['job', 'non-retryable']],
    )
    assert.equal(await w.replay({ type: 'job' }), 1)
  } finally {
    await nc.close()
    await w.close()
    await t.close()
  }
})
