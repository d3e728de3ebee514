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

  it('a string prefix keys the state under it', async () => {
    const limiter = createRateLimiter({ limit: 5, window: '10s', redis, prefix, name: 'api' })
    assert.equal((await limiter.consume('user:1')).allowed, true)
    assert.ok((await redis.exists(`${prefix}user:1`)) === 1, 'the state key is under the prefix')
  })
})
