import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { tracingChannels } from '../../../src/cache/index.js'
import { record } from '../../helpers/trace-recorder.js'
import { Harness } from './support.js'

const h = new Harness()
after(() => h.close())

describe('cache tracing with Redis', () => {
  it('get and getOrSet say when L2 answered; every Redis call is traced with its outcome', async () => {
    const prefix = h.prefix('trace')
    const a = h.cache(prefix)
    const b = h.cache(prefix)
    await h.ready(a)
    await h.ready(b)
    const ops = record(tracingChannels.get)
    const gos = record(tracingChannels.getOrSet)
    const l2 = record(tracingChannels.l2)
    try {
      await a.set('k', 'v', { tags: ['t1'] })
      assert.equal(await b.get('k'), 'v')
      assert.equal(await b.get('absent'), undefined)
      assert.equal(await a.getOrSet('other', () => 'loaded'), 'loaded')
      const c = h.cache(prefix)
      await h.ready(c)
      assert.equal(await c.getOrSet('other', () => 'never'), 'loaded')
      assert.deepEqual(
        ops.settled().map((x) => [x.key, x.answer]),
        [
          ['k', 'l2'],
          ['absent', 'miss'],
        ],
      )
      assert.deepEqual(
        gos.settled().map((x) => [x.key, x.answer]),
        [
          ['other', 'loader'],
          ['other', 'l2'],
        ],
      )
      const calls = l2.settled()
      const set = calls.find((x) => x.operation === 'set')
      assert.ok(set, 'the write is traced')
      assert.equal(set.keys, 2, 'the key and its tag set')
      assert.equal(set.prefix, prefix)
      assert.equal(set.outcome, 'ok')
      assert.ok(
        calls.filter((x) => x.operation === 'get').every((x) => x.outcome === 'ok'),
        'reads answered',
      )
      assert.ok(calls.filter((x) => x.operation === 'get').length >= 3)
    } finally {
      ops.stop()
      gos.stop()
      l2.stop()
    }
  })

  it('a call that times out is traced as unavailable, and the read answers from the loader', async () => {
    const server = await h.privateRedis()
    const prefix = h.prefix('trace-down', server.url)
    const cache = h.cache(prefix, { redis: { connection: server.url, timeout: 100 } })
    await h.ready(cache)
    const l2 = record(tracingChannels.l2)
    const gos = record(tracingChannels.getOrSet)
    try {
      server.pause()
      assert.equal(await cache.getOrSet('k', () => 'from-loader'), 'from-loader')
      const read = l2.settled().find((x) => x.operation === 'get')
      assert.equal(read?.outcome, 'unavailable')
      assert.equal(gos.settled()[0]?.answer, 'loader')
    } finally {
      server.resume()
      l2.stop()
      gos.stop()
    }
  })
})
