import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { createBus, NonRetryableError, type RedisTransport, redisTransport } from '../../../src/bus/index.js'
import { PrivateServer } from '../../helpers/private-servers.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix } from '../../helpers/services.js'
import { busConformance, until } from './conformance.js'

const prefix = uniquePrefix('bus')

busConformance('redis streams', {
  make: (o) =>
    redisTransport({
      redis: REDIS_URL,
      prefix,
      block: 200,
      promoteEvery: 10,
      claimIdle: o?.claimIdle ?? 5000,
    }),
  durable: true,
  crash: (t) => (t as RedisTransport).abandon(),
  cleanup: () => cleanupPrefix(prefix),
  restart: {
    server: () => PrivateServer.redis(),
    make: (url) => redisTransport({ redis: url, prefix, block: 200, promoteEvery: 10, claimIdle: 1000 }),
  },
})

const own = uniquePrefix('bus-retry-ack')
const redis = new Redis(REDIS_URL)
after(async () => {
  await cleanupPrefix(own)
  redis.disconnect()
})

it('a retried message acks its stream entry (it stayed pending forever, redelivered after a take-over)', async () => {
  const t = redisTransport({ redis: REDIS_URL, prefix: own, block: 100, promoteEvery: 10, claimIdle: 300 })
  const bus = createBus({ name: 'r', transport: t, retry: { attempts: 3, backoff: { next: () => 10 } } })
  let runs = 0
  bus.on('job', () => {
    if (++runs === 1) throw new Error('first attempt fails')
  })
  await bus.send('r', 'job', 1)
  await until(() => runs === 2, 5000, 'the retry')
  await until(
    async () => ((await redis.xpending(`${own}{r}:s2`, 'hp')) as [number])[0] === 0,
    5000,
    'no pending entries',
  )
  await new Promise((r) => setTimeout(r, 700)) // past claimIdle: nothing comes back
  assert.equal(runs, 2)
  await bus.close()
  await t.close()
})

it('reads the first wire format (one message per entry, field m) beside packs', async () => {
  const t = redisTransport({ redis: REDIS_URL, prefix: own, block: 100 })
  const bus = createBus({ name: 'wire', transport: t })
  const got: number[] = []
  bus.on('job', (n: number) => {
    got.push(n)
  })
  await bus.whenReady()
  const old = (n: number) =>
    JSON.stringify({
      id: `old-${n}`,
      to: 'wire',
      type: 'job',
      payload: n,
      p: 2,
      attempt: 1,
      sentAt: 0,
      queuedAt: 0,
    })
  await redis.xadd(`${own}{wire}:s2`, '*', 'm', old(1))
  await Promise.all([bus.send('wire', 'job', 2), bus.send('wire', 'job', 3)]) // one pack
  await until(() => got.length === 3, 5000, 'three messages')
  assert.deepEqual(got.sort(), [1, 2, 3])
  await bus.close()
  await t.close()
})

it('a pack taken over from a dead consumer is split: each message runs alone, its attempt raised', async () => {
  const dying = redisTransport({ redis: REDIS_URL, prefix: own, block: 100, claimIdle: 300 })
  const a = createBus({ name: 'split', transport: dying })
  let held = 0
  a.on('job', () => {
    held++
    return new Promise(() => {}) // never settles: the consumer dies holding the pack
  })
  await a.whenReady()
  await Promise.all([1, 2, 3, 4, 5].map((n) => a.send('split', 'job', n)))
  await until(() => held === 5, 5000, 'the pack held')
  dying.abandon()
  const t = redisTransport({ redis: REDIS_URL, prefix: own, block: 100, claimIdle: 300 })
  const b = createBus({ name: 'split', transport: t })
  const seen: Array<[number, number]> = []
  b.on('job', (n: number, m) => {
    seen.push([n, m.attempt])
    if (n === 3) throw new NonRetryableError('three fails alone')
  })
  await until(() => seen.length === 5, 10_000, 'the five messages again')
  assert.deepEqual(
    seen.sort((x, y) => x[0] - y[0]),
    [1, 2, 3, 4, 5].map((n) => [n, 2]),
  )
  await until(async () => (await b.deadLetters({ to: 'split' })).length === 1, 5000, 'one dead letter')
  assert.equal((await b.deadLetters({ to: 'split' }))[0]?.envelope.payload, 3)
  assert.equal(((await redis.xpending(`${own}{split}:s2`, 'hp')) as [number])[0], 0)
  await b.close()
  await t.close()
})

it('an outage logs no "[ioredis] Unhandled error event" from the clients a URL-made transport owns', async () => {
  const server = await PrivateServer.redis()
  const t = redisTransport({ redis: server.url, prefix: own, block: 100 })
  const bus = createBus({ name: 'quiet', transport: t })
  const logged: string[] = []
  const original = console.error
  console.error = (...args: unknown[]) => {
    logged.push(args.map(String).join(' '))
  }
  try {
    bus.on('job', () => {})
    await bus.whenReady()
    await server.stop()
    await new Promise((r) => setTimeout(r, 500)) // the reader, subscriber and command clients retry
    await server.start()
  } finally {
    console.error = original
    await bus.close({ drain: false }).catch(() => {})
    await t.close().catch(() => {})
    await server.close()
  }
  assert.deepEqual(
    logged.filter((l) => l.includes('Unhandled error event')),
    [],
  )
})

it('regression: buses closed while the transport was still subscribing them left readers connected to Redis for good (a server closed right after it started never exited)', async () => {
  const name = `hp-bus-race-${process.pid}-${Date.now()}`
  const racePrefix = uniquePrefix('bus-race')
  try {
    // as the reference server stopped right after it started: its agents' buses are still being
    // subscribed when they close, one after another, and then the transport closes; the timing
    // decides where each subscribe is, so the race is run a few times
    for (let round = 0; round < 40; round++) {
      const client = new Redis(REDIS_URL, { connectionName: name })
      const t = redisTransport({ redis: client, prefix: racePrefix, block: 200 })
      const buses = ['pricing', 'inventory', 'gateway'].map((n) => createBus({ name: n, transport: t }))
      await new Promise((r) => setTimeout(r, round % 8))
      for (const b of buses) await b.close({ drain: false })
      await t.close()
      client.disconnect()
    }
    // a reader started after its bus or transport closed connects a little later
    await new Promise((r) => setTimeout(r, 500))
    const left = String(await redis.client('LIST'))
      .split('\n')
      .filter((l) => l.includes(` name=${name} `))
    assert.deepEqual(left, [], 'no connection of these transports stays open')
  } finally {
    await cleanupPrefix(racePrefix)
  }
})
