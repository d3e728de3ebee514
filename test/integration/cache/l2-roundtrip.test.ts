import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Harness, PATIENT, primeL1 } from './support.js'

const h = new Harness()
after(() => h.close())

function richValue() {
  return {
    at: new Date(1_700_000_000_123),
    epoch: new Date(0),
    byId: new Map<unknown, unknown>([
      ['x', { n: 1 }],
      [2, 'number key'],
      ['inner', new Map([['deep', new Set(['a', 'b'])]])],
    ]),
    ids: new Set([1, 2, 3]),
    objects: new Set([{ a: 1 }, [1, 2]]),
    bytes: Buffer.from([0, 1, 2, 255]),
    big: 12_345_678_901_234_567_890n,
    small: 5n,
    negative: -42n,
    nested: { list: [1, { deep: 'yes', when: new Date(1_600_000_000_000) }], empty: {} },
    rows: [
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
      { name: 'c', id: 3 },
    ],
    nothing: null,
  }
}

function assertTypes(got: ReturnType<typeof richValue> | undefined): void {
  assert.ok(got !== undefined, 'value came back')
  assert.ok(got.at instanceof Date && got.epoch instanceof Date, 'Dates stay Dates')
  assert.equal(got.at.getTime(), 1_700_000_000_123)
  assert.ok(got.byId instanceof Map, 'Map stays a Map')
  assert.equal(got.byId.get(2), 'number key', 'non-string Map keys survive')
  assert.ok(got.byId.get('inner') instanceof Map)
  assert.ok((got.byId.get('inner') as Map<string, unknown>).get('deep') instanceof Set)
  assert.ok(got.ids instanceof Set && got.objects instanceof Set, 'Set stays a Set')
  assert.ok(Buffer.isBuffer(got.bytes), 'Buffer stays a Buffer')
  assert.equal(typeof got.big, 'bigint')
  assert.equal(typeof got.small, 'bigint')
  assert.equal(typeof got.negative, 'bigint')
  assert.ok(got.nested.list[1] !== undefined && typeof got.nested.list[1] === 'object')
  assert.ok((got.nested.list[1] as { when: unknown }).when instanceof Date)
}

describe('L2 round-trip between two instances', () => {
  it('Date, Map, Set, Buffer, BigInt and nested objects come back equal and of the right types', async () => {
    const prefix = h.prefix('roundtrip')
    const a = h.cache(prefix)
    const b = h.cache(prefix)
    const value = richValue()
    await a.set('rich', value)
    const got = await b.get<ReturnType<typeof richValue>>('rich')
    assert.deepEqual(got, value)
    assertTypes(got)
    assert.equal(b.stats().l2.hits, 1, 'b read it from L2')
    assert.equal(b.stats().loader.calls, 0)
    // an L2 read fills b's L1 with the decoded value (unless an invalidation raced it: read again)
    await primeL1(b, 'rich', value, a)
    assertTypes(b.getSync('rich'))
    assert.deepEqual(b.getSync('rich'), value)
    // and through getOrSet on a third instance without L1: no loader call
    const c = h.cache(prefix, { memory: false })
    const viaLoader = await c.getOrSet('rich', () => {
      throw new Error('the loader must not run: the value is in L2')
    })
    assert.deepEqual(viaLoader, value)
  })

  it('a value above redis.compressAbove is stored compressed and round-trips', async () => {
    const prefix = h.prefix('compressed')
    const a = h.cache(prefix, { redis: { connection: h.rawUrl, timeout: PATIENT, compressAbove: 256 } })
    const b = h.cache(prefix)
    const c = h.cache(prefix, {
      memory: false,
      redis: { connection: h.rawUrl, timeout: PATIENT, compressAbove: 0 },
    })
    const large = { ...richValue(), text: 'lorem ipsum dolor sit amet '.repeat(400) }
    const small = { n: 1, tiny: true }
    await a.set('large', large)
    await a.set('small', small)
    const raw = h.raw()
    const rawLarge = await raw.getBuffer(`${prefix}large`)
    const rawSmall = await raw.getBuffer(`${prefix}small`)
    assert.ok(rawLarge && rawSmall)
    assert.equal(rawLarge[0], 4, 'format byte says deflate for the large value')
    assert.equal(rawSmall[0], 3, 'format byte says plain msgpack for the small value')
    assert.ok(rawLarge.length < large.text.length / 4, 'the stored bytes are really compressed')
    const got = await b.get<typeof large>('large')
    assert.deepEqual(got, large)
    assertTypes(got)
    assert.deepEqual(await b.get('small'), small)
    // a reader configured without compression still reads compressed entries
    assert.deepEqual(await c.get('large'), large)
  })
})
