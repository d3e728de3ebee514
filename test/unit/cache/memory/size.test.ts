import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { estimateValueSize, stringSize } from '../../../../src/cache/memory/size.js'

describe('L1 entry size', () => {
  it('counts a string with characters above U+00FF at two bytes per character', () => {
    assert.equal(stringSize('x'.repeat(100)), 16 + 104)
    assert.equal(stringSize('é'.repeat(100)), 16 + 104, 'Latin-1 is still one byte per character')
    assert.equal(stringSize('€'.repeat(100)), 16 + 200)
  })

  it('counts Buffers by their bytes plus the view, and small integers as no extra bytes', () => {
    assert.ok(estimateValueSize(Buffer.alloc(4096)) >= 4096)
    assert.ok(estimateValueSize(Buffer.alloc(4096)) < 4096 + 256)
    assert.equal(estimateValueSize(42), 0)
    assert.equal(estimateValueSize(4.5), 16)
    assert.equal(estimateValueSize([1, 2, 3]), 48 + 3 * 8)
    assert.equal(estimateValueSize({ a: 1, b: 'xy' }), 24 + 2 * 8 + 24)
  })
})
