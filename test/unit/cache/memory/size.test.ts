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
    // short strings are checked by a loop, long ones by a regex: both ends agree
    assert.equal(stringSize('ab€'), (16 + 6 + 7) & ~7)
    assert.equal(stringSize('abé'), (16 + 3 + 7) & ~7)
    assert.equal(stringSize(`${'x'.repeat(63)}€`), 16 + 128)
    assert.equal(stringSize(`${'x'.repeat(64)}€`), (16 + 130 + 7) & ~7)
  })

  it('sizes plain, null-prototype and class objects by their own fields alike', () => {
    const plain = { a: 1, b: 'xy' }
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, plain)
    class Point {
      constructor(
        readonly a: number,
        readonly b: string,
      ) {}
    }
    const expected = 24 + 2 * 8 + 24
    assert.equal(estimateValueSize(bare), expected)
    assert.equal(estimateValueSize(new Point(1, 'xy')), expected)
    assert.equal(estimateValueSize(Object.freeze({ ...plain })), expected)
    assert.equal(estimateValueSize(new Date(0)), 96)
    assert.equal(estimateValueSize(new Map([['k', 1]])), 100 + 36 + 24)
  })

  it('charges a huge array flat beyond its visiting budget, without copying it onto the stack first', () => {
    const n = 5_000_000
    const big = new Array<number>(n).fill(7)
    const size = estimateValueSize(big)
    // the array's slots, plus a flat 64 bytes for each element the budget did not visit
    assert.ok(size >= 48 + 8 * n + 64 * (n - 300), `estimated ${size}`)
    assert.ok(size <= 48 + 8 * n + 64 * n, `estimated ${size}`)
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
