import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { createBus, natsTransport, redisTransport } from '../../../src/bus/index.js'
import { PrivateServer } from '../../helpers/private-servers.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix, waitUntil } from '../../helpers/services.js'

const redis = new Redis(REDIS_URL)
const prefixes: string[] = []
const users: string[] = []
after(async () => {
  for (const u of users) await redis.call('ACL', 'DELUSER', u)
  for (const p of prefixes) await cleanupPrefix(p)
  redis.disconnect()
})

/**
 * A bus on a Redis user of the test's own that may do everything but create consumer groups (its
 * subscribe gets NOPERM), with the subscribe failures it reports.
 */
async function busWithoutXgroup(name: string) {
  const prefix = uniquePrefix(name)
  prefixes.push(prefix)
  const user = `hp_sub_${Math.random().toString(36).slice(2, 10)}`
  users.push(user)
  await redis.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', '+@all', '-xgroup')
  const url = new URL(REDIS_URL)
  url.username = user
  url.password = 'pw'
  const t = redisTransport({ redis: url.toString(), prefix, block: 100 })
  const bus = createBus({ name: 'jobs', transport: t })
  const errors: Array<{ error: unknown; attempt: number; retryInMs: number }> = []
  bus.onEvent('subscribeError', (e) => errors.push(e))
  return { user, t, bus, errors }
}

it('regression: a bus whose subscribe got an error reply (NOPERM) never consumed and never tried again; it retries, says why, and consumes once Redis lets it', async () => {
  const { user, t, bus, errors } = await busWithoutXgroup('sub-retry')
  const handled: number[] = []
  bus.on('job', (n: number) => {
    handled.push(n)
  })
  try {
    await assert.rejects(bus.whenReady(), /NOPERM/)
    await waitUntil('a second failed attempt', () => errors.length >= 2)
    assert.equal(errors[0]?.attempt, 1)
    assert.equal(errors[0]?.retryInMs, 100)
    assert.equal(errors[1]?.retryInMs, 200, 'the backoff doubles')
    assert.match(String((errors[0]?.error as Error | undefined)?.message), /NOPERM/)
    assert.equal(bus.stats().consuming, false)
    assert.ok(bus.stats().subscribeFailures >= 2)

    // the operator fixes the permission: the next attempt subscribes and the bus consumes
    await redis.call('ACL', 'SETUSER', user, '+xgroup')
    await waitUntil('the bus to consume', () => bus.stats().consuming, 10_000)
    await bus.whenReady()
    await bus.send('jobs', 'job', 7)
    await waitUntil('the message to be handled', () => handled.length === 1)
    assert.deepEqual(handled, [7])
  } finally {
    await bus.close()
    await t.close()
  }
  assert.equal(bus.stats().consuming, false, 'a closed bus does not consume')
})

it('a bus closed while its subscribe is failing stops trying', async () => {
  const { t, bus, errors } = await busWithoutXgroup('sub-retry-close')
  try {
    await waitUntil('a failed attempt', () => errors.length >= 1)
    await bus.close()
    const seen = errors.length
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(errors.length, seen, 'no attempt after close')
    assert.equal(bus.stats().subscribeFailures, seen)
  } finally {
    await t.close()
  }
})

it('regression: a NATS transport whose stream set-up failed (a server without JetStream) kept the failure for good; the bus consumes once JetStream is there', async () => {
  const plain = await PrivateServer.nats({ jetStream: false })
  let js: PrivateServer | undefined
  const t = natsTransport({
    servers: plain.url,
    stream: `SUBRETRY_${Math.random().toString(36).slice(2, 8)}`,
  })
  const bus = createBus({ name: 'jobs', transport: t })
  const errors: Array<{ error: unknown }> = []
  bus.onEvent('subscribeError', (e) => errors.push(e))
  const handled: number[] = []
  bus.on('job', (n: number) => {
    handled.push(n)
  })
  try {
    await assert.rejects(
      bus.whenReady(),
      (err: unknown) => (err as { code?: string }).code === 'E_BUS_TRANSPORT',
    )
    await waitUntil('a second failed attempt', () => errors.length >= 2)
    assert.equal(bus.stats().consuming, false)
    // the same address comes back with JetStream on
    await plain.stop()
    js = await PrivateServer.nats({ port: plain.port })
    await waitUntil('the bus to consume', () => bus.stats().consuming, 15_000)
    await bus.send('jobs', 'job', 3)
    await waitUntil('the message to be handled', () => handled.length === 1)
    assert.deepEqual(handled, [3])
  } finally {
    await (js ?? plain).close([bus], [t])
    if (js !== undefined) await plain.close()
  }
})
