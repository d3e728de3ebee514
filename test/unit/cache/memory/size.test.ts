import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createCache } from '../../../../src/cache/index.js'
import { ENTRY_OVERHEAD, estimateValueSize, stringSize } from '../../../../src/cache/memory/size.js'
import { FakeClock } from '../../../../src/time.js'

function cache(memory: Record<string, unknown>) {
  return createCache({ clock: new FakeClock(), ttl: '1m', memory: { maxEntries: 1000, ...memory } })
}

describe('L1 entry size', () => {
  for (const [label, bad] of [
    ['NaN', Number.NaN],
    ['a negative number', -100],
    ['a string', '12'],
    ['Infinity', Number.POSITIVE_INFINITY],
  ] as const) {
    it(`a custom sizeOf returning ${label} is refused instead of switching maxBytes off`, async () => {
      const c = cache({ maxBytes: 10_000, sizeOf: () => bad })
      await assert.rejects(c.set('a', 'x'), {
        name: 'TypeError',
        message: /memory\.sizeOf must return a finite number >= 0/,
      })
      assert.equal(c.peek('a'), undefined)
      await c.close()
    })
  }

  it('a custom sizeOf that answers sizes bounds L1 by maxBytes', async () => {
    const c = cache({ maxBytes: 10_000, sizeOf: () => 1000 })
    for (let i = 0; i < 50; i++) await c.set(`k${i}`, i)
    assert.ok(c.stats().l1.bytes <= 10_000, `bytes ${c.stats().l1.bytes}`)
    await c.close()
  })

  it('counts an ASCII value at one byte per character, not two (8 MiB tracked was 4 MiB of heap)', async () => {
    const c = cache({ maxBytes: 1e9 })
    await c.set('k', 'x'.repeat(10_000))
    const bytes = c.stats().l1.bytes
    assert.ok(bytes >= 10_000 && bytes < 10_200, `tracked ${bytes} bytes for 10,000 ASCII characters`)
    await c.close()
  })

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

  it('charges the key and a fixed overhead per entry', async () => {
    const c = cache({ maxBytes: 1e9 })
    await c.set('key', 1)
    // the stored key may carry an internal prefix: a few characters at most
    const bytes = c.stats().l1.bytes
    assert.ok(bytes >= ENTRY_OVERHEAD + stringSize('key') && bytes <= ENTRY_OVERHEAD + stringSize('key') + 16)
    await c.close()
  })
})
