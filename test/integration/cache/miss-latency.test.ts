import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Harness, until } from './support.js'

const h = new Harness()
after(() => h.close())

it('a getOrSet miss answers as soon as the value is loaded, before its L2 write finishes', async () => {
  const redis = await h.privateRedis()
  const raw = h.raw(redis.url)
  const cache = h.cache('missfast:', {
    redis: { connection: redis.url, timeout: 1500, breakerThreshold: 10, bus: false },
  })
  assert.equal(await cache.get('warm-up'), undefined)
  const v = await cache.getOrSet('k', () => {
    redis.pause() // Redis freezes between the load and the write
    return 'loaded'
  })
  const timeoutsWhenAnswered = cache.stats().l2.timeouts
  redis.resume()
  assert.equal(v, 'loaded')
  assert.equal(timeoutsWhenAnswered, 0, 'answered without waiting for the write to time out')
  await until(async () => (await raw.exists('missfast:k')) === 1, 'the write lands after the answer', 5000)
})
