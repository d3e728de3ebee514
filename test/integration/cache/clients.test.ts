import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Cluster, Redis } from 'ioredis'
import { createCache } from '../../../src/cache/index.js'
import { cleanupPrefix, PrivateCluster, REDIS_URL, uniquePrefix } from '../../helpers/services.js'

describe('cache with a client you pass', () => {
  const prefix = uniquePrefix('own-client')
  after(() => cleanupPrefix(prefix))

  it('uses an existing ioredis client and never closes it', async () => {
    const client = new Redis(REDIS_URL)
    try {
      const cache = createCache({ redis: client, prefix })
      await cache.set('k', { n: 1 }, { tags: ['t'] })
      const reader = createCache({ redis: client, prefix, memory: false })
      assert.deepEqual(await reader.get('k'), { n: 1 })
      await reader.close()
      await cache.close()
      assert.equal(client.status, 'ready')
      assert.equal(await client.exists(`${prefix}k`), 1)
    } finally {
      client.disconnect()
    }
  })
})

describe('cache on a Redis Cluster', () => {
  let cluster: PrivateCluster
  let client: Cluster
  before(async () => {
    cluster = await PrivateCluster.start(3)
    client = new Cluster(cluster.nodes, { enableAutoPipelining: true })
  })
  after(async () => {
    client.disconnect()
    await cluster.stop()
  })

  it('refuses a prefix without a hash tag, naming the fix', () => {
    assert.throws(() => createCache({ redis: client, prefix: 'app:' }), {
      name: 'TypeError',
      message: /hash tag.*\{app\}:/,
    })
  })

  it('works end to end with a hash-tagged prefix: get, getMany, tags, clear, invalidation', async () => {
    const a = createCache({ redis: { connection: client, timeout: '2s' }, prefix: '{app}:' })
    const b = createCache({ redis: { connection: client, timeout: '2s' }, prefix: '{app}:' })
    const l2only = createCache({
      redis: { connection: client, timeout: '2s' },
      prefix: '{app}:',
      memory: false,
    })
    const eventually = async (what: string, cond: () => Promise<boolean>) => {
      const deadline = Date.now() + 3000
      while (!(await cond())) {
        if (Date.now() > deadline) assert.fail(`timed out: ${what}`)
        await new Promise((r) => setTimeout(r, 10))
      }
    }
    try {
      await eventually(
        'both buses subscribed',
        async () => a.stats().l2.busConnected && b.stats().l2.busConnected,
      )
      await a.set('x', 1, { tags: ['t'] })
      await a.set('y', 2, { tags: ['t'] })
      assert.deepEqual(await b.getMany(['x', 'y', 'z']), [1, 2, undefined])
      await a.expireByTag('t')
      assert.equal(await l2only.get('x'), undefined, 'expired in L2 by the Lua script')
      await eventually('b expires x in L1', async () => (await b.get('x')) === undefined)
      await a.set('x', 3, { tags: ['t'] })
      await a.deleteByTag('t')
      assert.equal(await l2only.get('x'), undefined, 'deleted in L2')
      await eventually('b drops x from L1', async () => (await b.get('x')) === undefined)
      await a.set('w', 4)
      assert.equal(await b.get('w'), 4)
      await a.clear()
      assert.equal(await l2only.get('w'), undefined, 'cleared in L2 on every master')
      await eventually('b drops w from L1', async () => (await b.get('w')) === undefined)
      let calls = 0
      const lockA = createCache({
        redis: { connection: client, timeout: '2s' },
        prefix: '{app}:',
        lock: true,
      })
      const lockB = createCache({
        redis: { connection: client, timeout: '2s' },
        prefix: '{app}:',
        lock: true,
      })
      const loader = async () => {
        calls++
        await new Promise((r) => setTimeout(r, 30))
        return 'v'
      }
      await Promise.all([lockA.getOrSet('hot', loader), lockB.getOrSet('hot', loader)])
      assert.equal(calls, 1)
      await lockA.close()
      await lockB.close()
    } finally {
      await a.clear()
      await a.close()
      await b.close()
      await l2only.close()
    }
  })
})
