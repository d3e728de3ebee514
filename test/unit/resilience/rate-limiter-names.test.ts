// Regression: createRateLimiter() took any value as `prefix` or `name`: a number or an object was
// pasted into Redis keys (`[object Object]user:1`, so every such limiter shared one namespace) and
// into metric labels and headers.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createRateLimiter } from '../../../src/resilience/index.js'

function refused(extra: Record<string, unknown>, message: RegExp): void {
  assert.throws(
    () => createRateLimiter({ limit: 10, window: '1s', ...extra } as never),
    (e: Error) => {
      assert.ok(e instanceof TypeError, String(e))
      assert.match(e.message, message)
      return true
    },
  )
}

describe('createRateLimiter prefix and name', () => {
  it('regression: a non-string prefix was accepted (checked even without Redis)', () => {
    refused({ prefix: 42 }, /prefix must be a string; received number 42/)
    refused({ prefix: { ns: 'api' } }, /prefix must be a string; received object/)
    refused({ prefix: null }, /prefix must be a string; received null/)
  })

  it('regression: a non-string name was accepted', () => {
    refused({ name: 7 }, /name must be a string; received number 7/)
    refused({ name: { label: 'api' } }, /name must be a string; received object/)
    refused({ name: ['api'] }, /name must be a string; received object/)
  })

  it('an empty prefix or name is refused (a RangeError naming the option)', () => {
    for (const k of ['prefix', 'name']) {
      assert.throws(
        () => createRateLimiter({ limit: 10, window: '1s', [k]: '' }),
        (e: Error) =>
          e instanceof RangeError && e.message === `${k} must not be empty; omit it for the default`,
      )
    }
  })

  it('string values and omitted ones still pass', () => {
    assert.equal(createRateLimiter({ limit: 1, window: '1s', name: 'api', prefix: 'x:' }).name, 'api')
    assert.equal(createRateLimiter({ limit: 1, window: '1s' }).name, 'default')
    assert.equal(
      createRateLimiter({ limit: 1, window: '1s', name: undefined, prefix: undefined }).name,
      'default',
    )
  })
})
