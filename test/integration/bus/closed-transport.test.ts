import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { connect } from 'nats'
import { createBus, natsTransport, redisTransport } from '../../../src/bus/index.js'
import { isHotpathError } from '../../../src/errors.js'
import { cleanupNats, cleanupPrefix, NATS_URL, REDIS_URL, uniquePrefix } from '../../helpers/services.js'

const redis = new Redis(REDIS_URL)
const prefixes: string[] = []
const streams: string[] = []
after(async () => {
  for (const p of prefixes) await cleanupPrefix(p)
  for (const s of streams) await cleanupNats(s)
  redis.disconnect()
})

const closedError = (err: unknown) => isHotpathError(err, 'E_CLOSED')

it('regression: a Redis transport on a client the caller passed in still stored sends after close(); they fail with E_CLOSED and nothing is written', async () => {
  const prefix = uniquePrefix('closed-redis')
  prefixes.push(prefix)
  const client = new Redis(REDIS_URL)
  const t = redisTransport({ redis: client, prefix, block: 100 })
  const bus = createBus({ name: 'x', transport: t })
  try {
    await bus.whenReady() // connected before close
    await bus.close()
    await t.close()
    assert.equal(client.status, 'ready', "close() leaves the caller's client open")
    const sender = createBus({ name: 'y', transport: t })
    await assert.rejects(sender.send('x', 'job', 2), closedError)
    await assert.rejects(sender.whenReady(), closedError)
    await assert.rejects(t.claimDedup('k', 1000), closedError)
    await sender.close()
    assert.equal(await redis.xlen(`${prefix}{x}:s2`), 0, 'nothing was stored after close')
  } finally {
    client.disconnect()
  }
})

it('regression: a NATS transport on a connection the caller passed in still stored sends after close(); they fail with E_CLOSED', async () => {
  const stream = `CLOSED_${Math.random().toString(36).slice(2, 8)}`
  streams.push(stream)
  const nc = await connect({ servers: NATS_URL })
  const t = natsTransport({ connection: nc, stream })
  const bus = createBus({ name: 'x', transport: t })
  try {
    await bus.whenReady()
    await bus.close()
    await t.close()
    assert.equal(nc.isClosed(), false, "close() leaves the caller's connection open")
    const sender = createBus({ name: 'y', transport: t })
    await assert.rejects(sender.send('x', 'job', 2), closedError)
    await assert.rejects(sender.whenReady(), closedError)
    await sender.close()
    const jsm = await nc.jetstreamManager()
    const info = await jsm.streams.info(stream)
    assert.equal(info.state.messages, 0, 'nothing was stored after close')
  } finally {
    await nc.close()
  }
})
