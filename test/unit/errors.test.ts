import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HotpathError, InvalidKeyError, isHotpathError, LoaderError } from '../../src/errors.js'

describe('errors', () => {
  it('carry a stable code, cause and status', () => {
    const cause = new Error('db down')
    const err = new LoaderError('user:1', cause)
    assert.equal(err.code, 'E_LOADER')
    assert.equal(err.cause, cause)
    assert.equal(err.statusCode, 502)
    assert.equal(err.name, 'LoaderError')
    assert.match(err.message, /user:1.*db down/)
  })
  it('are recognised by the guard, with and without a code', () => {
    const err = new InvalidKeyError('empty key')
    assert.ok(isHotpathError(err))
    assert.ok(isHotpathError(err, 'E_INVALID_KEY'))
    assert.equal(isHotpathError(err, 'E_TIMEOUT'), false)
    assert.ok(!isHotpathError(new Error('x')))
    assert.ok(!isHotpathError(null))
    assert.ok(err instanceof HotpathError)
  })
})
