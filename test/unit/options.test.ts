import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertKnownKeys, closestName } from '../../src/options.js'

describe('assertKnownKeys', () => {
  const known = ['memory', 'redis', 'ttl', 'maxAttempts']
  it('passes known keys, undefined and null', () => {
    assertKnownKeys({ memory: {}, ttl: 1 }, known, 'cache options')
    assertKnownKeys(undefined, known, 'cache options')
    assertKnownKeys(null, known, 'cache options')
  })
  it('refuses a misspelt key naming where it was found and the closest valid name', () => {
    assert.throws(() => assertKnownKeys({ memroy: {} }, known, 'cache options'), {
      name: 'TypeError',
      message: 'cache options: unknown option "memroy". Did you mean "memory"?',
    })
    assert.throws(() => assertKnownKeys({ ttL: 1 }, known, 'x'), { message: /Did you mean "ttl"/ })
    assert.throws(() => assertKnownKeys({ maxAtempts: 1 }, known, 'x'), {
      message: /Did you mean "maxAttempts"/,
    })
  })
  it('lists the valid names when nothing is close', () => {
    assert.throws(() => assertKnownKeys({ colour: 'red' }, known, 'x'), {
      message: /unknown option "colour"\. Valid options: memory, redis, ttl, maxAttempts\./,
    })
  })
})

describe('closestName', () => {
  it('finds typos and refuses unrelated names', () => {
    assert.equal(closestName('redsi', ['redis', 'memory']), 'redis')
    assert.equal(closestName('zzzzzz', ['redis', 'memory']), undefined)
  })
})
