import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Redis } from 'ioredis'
import { createBus, type RedisTransport, redisTransport } from '../../../src/bus/index.js'
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
