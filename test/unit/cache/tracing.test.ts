import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createCache, tracingChannels } from '../../../src/cache/index.js'
import { FakeClock } from '../../../src/time.js'
import { record } from '../../helpers/trace-recorder.js'

describe('cache tracing channels (memory tier)', () => {
  it('are named hotpath:cache.* and have no subscribers by default', () => {
    assert.equal(tracingChannels.get.hasSubscribers, false)
    assert.equal(tracingChannels.getOrSet.hasSubscribers, false)
    assert.equal(tracingChannels.load.hasSubscribers, false)
    assert.equal(tracingChannels.l2.hasSubscribers, false)
    const r = record(tracingChannels.get)
    assert.equal(tracingChannels.get.hasSubscribers, true)
    r.stop()
    assert.equal(tracingChannels.get.hasSubscribers, false)
  })

  it('get: start and asyncEnd share one context naming the cache, key, namespace and the tier that answered', async () => {
    const cache = createCache({ name: 'traced', ttl: 1000 })
    const r = record(tracingChannels.get)
    try {
      assert.equal(await cache.get('k'), undefined)
      await cache.set('k', 42)
      assert.equal(await cache.get('k'), 42)
      const view = cache.namespace('a').namespace('b')
      await view.set('k', 'in-view')
      assert.equal(await view.get('k'), 'in-view')
      const settled = r.settled()
      assert.deepEqual(
        settled.map((c) => [c.cache, c.key, c.namespace, c.answer, c.result]),
        [
          ['traced', 'k', '', 'miss', undefined],
          ['traced', 'k', '', 'l1', 42],
          ['traced', 'k', 'a/b', 'l1', 'in-view'],
        ],
      )
      const starts = r.events.filter((e) => e.event === 'start')
      const ends = r.events.filter((e) => e.event === 'asyncEnd')
      assert.equal(starts.length, 3)
      for (let i = 0; i < 3; i++) assert.equal(starts[i]?.ref, ends[i]?.ref)
      // nothing is answered yet when the operation starts
      assert.equal(starts[0]?.context.answer, undefined)
    } finally {
      r.stop()
      await cache.close()
    }
  })

  it('get: a rejected call (bad key) publishes an error event', async () => {
    const cache = createCache({ ttl: 1000 })
    const r = record(tracingChannels.get)
    try {
      await assert.rejects(cache.get(''), { code: 'E_INVALID_KEY' })
      const errors = r.errors()
      assert.equal(errors.length, 1)
      assert.equal((errors[0]?.error as { code?: string } | undefined)?.code, 'E_INVALID_KEY')
    } finally {
      r.stop()
      await cache.close()
    }
  })

  it('getOrSet: loader, l1, joined and stale answers; one load trace per loader run', async () => {
    const clock = new FakeClock()
    const cache = createCache({ name: 'gos', clock, ttl: 100, grace: 1000 })
    const ops = record(tracingChannels.getOrSet)
    const loads = record(tracingChannels.load)
    try {
      let release!: (v: string) => void
      const slow = new Promise<string>((res) => {
        release = res
      })
      const first = cache.getOrSet('k', () => slow)
      const second = cache.getOrSet('k', () => 'never')
      release('v1')
      assert.deepEqual(await Promise.all([first, second]), ['v1', 'v1'])
      assert.equal(await cache.getOrSet('k', () => 'never'), 'v1')
      clock.advance(150)
      // past ttl, within grace: the loader fails and the stale value is served
      assert.equal(
        await cache.getOrSet('k', () => {
          throw new Error('down')
        }),
        'v1',
      )
      assert.deepEqual(
        ops.settled().map((c) => [c.cache, c.key, c.answer, c.result]),
        [
          ['gos', 'k', 'loader', 'v1'],
          ['gos', 'k', 'joined', 'v1'],
          ['gos', 'k', 'l1', 'v1'],
          ['gos', 'k', 'stale', 'v1'],
        ],
      )
      // two loader runs: the first succeeded; the second failed and was replaced by the stale value
      const loadEnds = loads.settled()
      assert.deepEqual(
        loadEnds.map((c) => [
          c.key,
          c.early,
          c.batched,
          c.result,
          (c.servedStale as Error | undefined)?.message,
        ]),
        [
          ['k', false, false, 'v1', undefined],
          ['k', false, false, 'v1', 'down'],
        ],
      )
      assert.equal(loads.errors().length, 0)
    } finally {
      ops.stop()
      loads.stop()
      await cache.close()
    }
  })

  it('a loader error with nothing stale to serve is published as an error event', async () => {
    const cache = createCache({ ttl: 1000 })
    const ops = record(tracingChannels.getOrSet)
    const loads = record(tracingChannels.load)
    try {
      await assert.rejects(
        cache.getOrSet('k', () => {
          throw new Error('boom')
        }),
        { code: 'E_LOADER' },
      )
      assert.equal((loads.errors()[0]?.error as { code?: string } | undefined)?.code, 'E_LOADER')
      assert.equal((ops.errors()[0]?.error as { code?: string } | undefined)?.code, 'E_LOADER')
      // the asyncEnd that follows an error carries it: no trace settles as a success
      assert.ok(ops.settled().every((c) => c.error !== undefined))
    } finally {
      ops.stop()
      loads.stop()
      await cache.close()
    }
  })

  it('getOrSetMany: each key of a batch gets a load trace marked batched', async () => {
    const cache = createCache({ ttl: 1000 })
    const loads = record(tracingChannels.load)
    try {
      await cache.getOrSetMany(['a', 'b'], async (keys) => keys.map((k) => k.toUpperCase()))
      const settled = loads.settled()
      assert.deepEqual(
        settled.map((c) => [c.key, c.batched, c.result]),
        [
          ['a', true, 'A'],
          ['b', true, 'B'],
        ],
      )
    } finally {
      loads.stop()
      await cache.close()
    }
  })

  it('untraced calls behave the same once the subscriber leaves', async () => {
    const cache = createCache({ ttl: 1000 })
    const r = record(tracingChannels.getOrSet)
    r.stop()
    assert.equal(await cache.getOrSet('x', () => 1), 1)
    assert.equal(await cache.get('x'), 1)
    assert.equal(r.events.length, 0)
    await cache.close()
  })
})
