import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { connect } from 'nats'
import { scopedKey } from '../../../src/bus/envelope.js'
import { createBus, natsTransport, redisTransport } from '../../../src/bus/index.js'
import { isHotpathError } from '../../../src/errors.js'
import {
  cleanupNats,
  cleanupPrefix,
  NATS_URL,
  REDIS_URL,
  uniquePrefix,
  uniqueStream,
  waitUntil,
} from '../../helpers/services.js'

const redis = new Redis(REDIS_URL)
const prefixes: string[] = []
const streams: string[] = []
after(async () => {
  for (const p of prefixes) await cleanupPrefix(p)
  for (const s of streams) await cleanupNats(s)
  redis.disconnect()
})

it('regression: a NATS transport closed while a handler still ran refused that message’s dead letter with E_CLOSED (it was nak’ed back to the stream instead of stored), though ack and retry of delivered messages still worked', async () => {
  const stream = uniqueStream('a27dl')
  streams.push(stream)
  const nc = await connect({ servers: NATS_URL })
  const t = natsTransport({ connection: nc, stream })
  const bus = createBus({ name: 'x', transport: t, retry: { attempts: 1 } })
  let release: () => void = () => {}
  const gate = new Promise<void>((r) => {
    release = r
  })
  let started = false
  bus.on('job', async () => {
    started = true
    await gate
    throw new Error('boom')
  })
  const reader = natsTransport({ connection: nc, stream })
  try {
    await bus.whenReady()
    await bus.send('x', 'job', 1)
    await waitUntil('the handler to start', () => started)
    // a shutdown: the bus gives its handler a short drain, then the transport closes
    await bus.close({ timeout: 50 })
    await t.close()
    release() // the handler fails after the close: its message is dead-lettered (attempts: 1)
    await waitUntil(
      'the dead letter to be stored',
      async () => (await reader.listDeadLetters({ to: 'x' })).length === 1,
      3000,
    )
  } finally {
    release()
    await reader.close()
    await nc.close()
  }
})

it('regression: a bus created while its transport was closing was reported ready and consuming (whenReady resolved, consuming true) though nothing ever consumed for it; it fails with E_CLOSED', async () => {
  const closedError = (err: unknown) => isHotpathError(err, 'E_CLOSED')
  const prefix = uniquePrefix('a27-closing')
  prefixes.push(prefix)
  const stream = uniqueStream('a27closing')
  streams.push(stream)
  const transports = [
    redisTransport({ redis: REDIS_URL, prefix, block: 500 }),
    natsTransport({ servers: NATS_URL, stream }),
  ]
  for (const t of transports) {
    const a = createBus({ name: 'a', transport: t })
    await a.whenReady()
    const closing = t.close() // stops a's reader first (a blocking read on Redis)
    const b = createBus({ name: 'b', transport: t })
    try {
      await assert.rejects(b.whenReady(), closedError, t.kind)
      await closing
      assert.equal(b.stats().consuming, false, t.kind)
    } finally {
      await closing
      await a.close()
      await b.close()
    }
  }
})

it('regression: an idempotent handler that finished after its transport closed (on a client or connection the caller passed in) had its processed mark refused with E_CLOSED, so the message that ran was failed and retried (run again)', async () => {
  const prefix = uniquePrefix('a27-mark')
  prefixes.push(prefix)
  const stream = uniqueStream('a27mark')
  streams.push(stream)
  const client = new Redis(REDIS_URL)
  const nc = await connect({ servers: NATS_URL })
  const make = [
    () => redisTransport({ redis: client, prefix, block: 100 }),
    () => natsTransport({ connection: nc, stream }),
  ]
  try {
    for (const transport of make) {
      const t = transport()
      const reader = transport()
      const bus = createBus({ name: 'x', transport: t })
      let release: () => void = () => {}
      const gate = new Promise<void>((r) => {
        release = r
      })
      let started = false
      bus.on(
        'job',
        async () => {
          started = true
          await gate
        },
        { idempotent: true },
      )
      try {
        await bus.whenReady()
        const id = (await bus.send('x', 'job', 1)) as string
        await waitUntil('the handler to start', () => started)
        await bus.close({ timeout: 50 })
        await t.close()
        release() // the handler succeeds after the close: its message is marked processed
        await waitUntil(`the processed mark (${t.kind})`, () => reader.isProcessed(scopedKey('x', id)), 2000)
        assert.equal(bus.stats().failures, 0, `${t.kind}: the message that ran is not failed`)
      } finally {
        release()
        await reader.close()
      }
    }
  } finally {
    client.disconnect()
    await nc.close()
  }
})
