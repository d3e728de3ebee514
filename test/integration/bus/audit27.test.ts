import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { connect } from 'nats'
import { createBus, natsTransport } from '../../../src/bus/index.js'
import { cleanupNats, cleanupPrefix, NATS_URL, REDIS_URL, uniqueStream } from '../../helpers/services.js'

const redis = new Redis(REDIS_URL)
const prefixes: string[] = []
const streams: string[] = []
after(async () => {
  for (const p of prefixes) await cleanupPrefix(p)
  for (const s of streams) await cleanupNats(s)
  redis.disconnect()
})

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

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
    await until('the handler to start', () => started)
    // a shutdown: the bus gives its handler a short drain, then the transport closes
    await bus.close({ timeout: 50 })
    await t.close()
    release() // the handler fails after the close: its message is dead-lettered (attempts: 1)
    await until(
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
