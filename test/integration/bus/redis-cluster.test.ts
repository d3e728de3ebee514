/**
 * The Redis Streams transport on Redis Cluster: the whole conformance suite on a private
 * three-master cluster (docs/bus.md: every key of an address shares the hash tag `{address}`).
 * Request-reply, broadcast and retries touch several addresses; a command or script spanning
 * two slots fails on a cluster with CROSSSLOT, which a single Redis never reports.
 */
import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Cluster } from 'ioredis'
import { createBus, type Message, type RedisTransport, redisTransport } from '../../../src/bus/index.js'
import { PrivateCluster } from '../../helpers/services.js'
import { busConformance, until } from './conformance.js'

const cluster = await PrivateCluster.start()
const clients: Cluster[] = []
after(async () => {
  for (const c of clients) c.disconnect()
  await cluster.stop()
})

busConformance('redis streams on Redis Cluster', {
  make: (o) => {
    const redis = new Cluster(cluster.nodes)
    clients.push(redis)
    return redisTransport({
      redis,
      prefix: 'c:',
      block: 200,
      promoteEvery: 10,
      claimIdle: o?.claimIdle ?? 5000,
    })
  },
  durable: true,
  crash: (t) => (t as RedisTransport).abandon(),
  cleanup: async () => {
    for (const c of clients.splice(0)) c.disconnect()
  },
})

it('batches by key with idempotent handlers: every message once, each batch one key, a failed one retried', async () => {
  const redis = new Cluster(cluster.nodes)
  clients.push(redis)
  const t = redisTransport({ redis, prefix: 'cb:', block: 200, promoteEvery: 10 })
  const bus = createBus({
    name: 'batches',
    transport: t,
    retry: { attempts: 3, backoff: { next: () => 10 } },
  })
  const seen = new Map<number, number>()
  const mixed: string[] = []
  let failedOnce = false
  bus.onBatch(
    'job',
    (messages: Message[], batch) => {
      const keys = new Set(messages.map((m) => m.batchKey))
      if (keys.size !== 1) mixed.push([...keys].join(','))
      for (const m of messages) {
        if (m.payload === 7 && !failedOnce) {
          failedOnce = true
          batch.fail(m, new Error('once'))
          continue
        }
        seen.set(m.payload as number, (seen.get(m.payload as number) ?? 0) + 1)
      }
    },
    { maxSize: 50, maxWait: 20, idempotent: true },
  )
  await bus.whenReady()
  const N = 400
  await Promise.all(
    Array.from({ length: N }, (_, i) => bus.send('batches', 'job', i, { batchKey: `k${i % 4}` })),
  )
  await until(() => seen.size === N, 10_000, `all ${N} messages`)
  await new Promise((r) => setTimeout(r, 200))
  assert.deepEqual(mixed, [])
  assert.equal(failedOnce, true)
  assert.deepEqual(
    [...seen.values()].filter((n) => n !== 1),
    [],
  )
  await bus.close()
  await t.close()
})
