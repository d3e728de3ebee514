import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Harness, PATIENT, primeL1, until } from './support.js'

const h = new Harness()
after(() => h.close())

describe('invalidation bus gap', () => {
  it('after the private Redis is stopped and started, L1 is flushed because invalidations were missed', async () => {
    const priv = await h.privateRedis()
    const prefix = h.prefix('bus-gap', priv.url)
    const cache = h.cache(prefix, { redis: { connection: priv.url, timeout: 100 } })
    const flushes: Array<{ reason: string; entries: number }> = []
    cache.on('flush', (e) => flushes.push({ reason: e.reason, entries: cache.stats().l1.entries }))
    await h.ready(cache)
    await cache.set('k', 'v')
    await cache.set('tagged', 1, { tags: ['t'] })
    await cache.namespace('ns').set('k', 'nv')
    assert.equal(cache.getSync('k'), 'v')
    assert.equal(cache.getSync('tagged'), 1)
    assert.equal(cache.namespace('ns').getSync('k'), 'nv')
    assert.equal(cache.stats().l2.busGaps, 0)

    await priv.stop()
    await until(() => !cache.stats().l2.busConnected, 'the bus notices the lost connection')
    // while Redis is gone, L1 still serves (no flush yet: nothing has been missed that we know of)
    assert.equal(await cache.get('k'), 'v')
    assert.equal(flushes.length, 0)
    await priv.start()

    await until(() => flushes.length >= 1, "a 'flush' event after the bus reconnects", 5000)
    assert.equal(flushes[0]?.reason, 'bus-gap')
    assert.equal(flushes[0]?.entries, 0, 'L1 is empty when the flush is reported')
    assert.ok(cache.stats().l2.busGaps >= 1)
    assert.equal(cache.getSync('k'), undefined)
    assert.equal(cache.getSync('tagged'), undefined)
    assert.equal(cache.namespace('ns').getSync('k'), undefined)
    await until(() => cache.stats().l2.busConnected, 'the bus reports connected again', 5000)
  })

  it('after the reconnect the bus delivers invalidations again (resubscribed)', async () => {
    const priv = await h.privateRedis()
    const prefix = h.prefix('bus-gap-resub', priv.url)
    const reader = h.cache(prefix, { redis: { connection: priv.url, timeout: PATIENT } })
    let flushes = 0
    reader.on('flush', () => flushes++)
    await h.subscribers(prefix, 1, priv.url)
    await priv.stop()
    await priv.start()
    await until(() => flushes >= 1, 'the reader flushed after the reconnect', 5000)
    await h.subscribers(prefix, 1, priv.url)
    await until(() => reader.stats().l2.breaker === 'closed', "the reader's breaker is closed", 5000)
    const writer = h.cache(prefix, { redis: { connection: priv.url, timeout: PATIENT } })
    await h.subscribers(prefix, 2, priv.url)
    // tagged writes use a Lua script the restarted server has never seen
    await writer.set('k', 'v1', { tags: ['t'] })
    await primeL1(reader, 'k', 'v1', writer)
    await writer.set('k', 'v2', { tags: ['t'] })
    await until(() => reader.getSync('k') === undefined, "the reader's L1 drops k after the writer's set")
    assert.equal(await reader.get('k'), 'v2')
    await primeL1(reader, 'k', 'v2', writer)
    await writer.deleteByTag('t')
    await until(() => reader.getSync('k') === undefined, "the reader's L1 drops k after deleteByTag")
    assert.equal(await reader.get('k'), undefined)
  })
})
