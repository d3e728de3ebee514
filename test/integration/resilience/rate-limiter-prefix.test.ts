// Regression: a Redis rate limiter took a non-string `prefix` (or `name`) and built its Redis keys
// from it (`42user:1`, `[object Object]user:1`). Real Redis at 127.0.0.1:6379, own key prefix.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createRateLimiter } from '../../../src/resilience/index.js'
import { redisScope } from '../../helpers/services.js'

const scope = redisScope()
const prefix = scope.prefix('rl-prefix')
const redis = scope.client()
before(() => redis.ping())
after(() => scope.close())

describe('createRateLimiter with Redis: prefix and name', () => {
  it('regression: a Redis limiter accepted a non-string prefix or name for its keys and labels', () => {
    assert.throws(
      () => createRateLimiter({ limit: 5, window: '1s', redis, prefix: { ns: prefix } } as never),
      /TypeError: prefix must be a string; received object/,
    )
    assert.throws(
      () => createRateLimiter({ limit: 5, window: '1s', redis, prefix: 42 } as never),
      /TypeError: prefix must be a string; received number 42/,
    )
    assert.throws(
      () => createRateLimiter({ limit: 5, window: '1s', redis, prefix, name: 42 } as never),
      /TypeError: name must be a string; received number 42/,
    )
  })

  it('a string prefix keys the state under it, then the name', async () => {
    const limiter = createRateLimiter({ limit: 5, window: '10s', redis, prefix, name: 'api' })
    assert.equal((await limiter.consume('user:1')).allowed, true)
    assert.equal(await redis.exists(`${prefix}api:user:1`), 1, 'the state key is prefix, name, key')
  })

  it('regression: limiters of different names shared one Redis bucket per key', async () => {
    // a strict login limit and a loose global one, both keyed by the client: the strict one's
    // refusals used up the global budget (the loose limiter said `allowed: false, remaining: 0`)
    const strict = createRateLimiter({ limit: 2, window: '1m', redis, prefix, name: 'login' })
    const loose = createRateLimiter({ limit: 100, window: '1m', redis, prefix, name: 'global' })
    const seen: boolean[] = []
    for (let i = 0; i < 3; i++) seen.push((await strict.consume('client-a')).allowed)
    assert.deepEqual(seen, [true, true, false])
    const d = await loose.consume('client-a')
    assert.equal(d.allowed, true)
    assert.equal(d.remaining, 99, 'the loose limiter kept its own budget')
  })

  it('limiters of one name share their budget (instances of one policy)', async () => {
    const a = createRateLimiter({ limit: 3, window: '1m', redis, prefix, name: 'shared' })
    const b = createRateLimiter({ limit: 3, window: '1m', redis, prefix, name: 'shared' })
    const got = [
      (await a.consume('client-b')).allowed,
      (await b.consume('client-b')).allowed,
      (await a.consume('client-b')).allowed,
      (await b.consume('client-b')).allowed,
    ]
    assert.deepEqual(got, [true, true, true, false])
  })
})
