import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Packr } from 'msgpackr'
import { decode, encode } from '../../../src/cache/serializer.js'
import { isHotpathError } from '../../../src/errors.js'

describe('L2 serializer', () => {
  it('round-trips Date, Map, Set, Buffer, BigInt and nested objects with the header fields', () => {
    const value = {
      at: new Date(1_700_000_000_000),
      byId: new Map<unknown, unknown>([
        ['a', { n: 1 }],
        [2, new Set(['x'])],
      ]),
      bytes: Buffer.from('hello'),
      big: 2n ** 70n,
      list: [1, 'two', null, { deep: { deeper: true } }],
    }
    const e = decode(encode(value, ['t1'], 1000, 2000, 12.5, 0))
    assert.deepEqual(e.value, value)
    assert.ok((e.value as typeof value).byId instanceof Map)
    assert.ok(Buffer.isBuffer((e.value as typeof value).bytes))
    assert.deepEqual(e.tags, ['t1'])
    assert.equal(e.expiresAt, 1000)
    assert.equal(e.staleUntil, 2000)
    assert.equal(e.delta, 12.5)
  })

  it('compresses above the threshold and still round-trips', () => {
    const big = { text: 'abc'.repeat(5000) }
    const plain = encode(big, undefined, 1, 2, 0, 0)
    const packed = encode(big, undefined, 1, 2, 0, 1024)
    assert.ok(packed.length < plain.length / 10)
    assert.deepEqual(decode(packed).value, big)
  })

  it('refuses functions, symbols and circular values with E_SERIALIZE', () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    for (const bad of [{ f: () => 1 }, Symbol('s'), circular]) {
      assert.throws(
        () => encode(bad, undefined, 1, 2, 0, 0),
        (e) => isHotpathError(e, 'E_SERIALIZE'),
      )
    }
  })

  it('refuses foreign bytes with E_DESERIALIZE', () => {
    assert.throws(
      () => decode(Buffer.from('not ours at all, just a string')),
      (e) => isHotpathError(e, 'E_DESERIALIZE'),
    )
    const ok = encode({ a: 1 }, undefined, 1, 2, 0, 0)
    assert.throws(
      () => decode(ok.subarray(0, ok.length - 2)),
      (e) => isHotpathError(e, 'E_DESERIALIZE'),
    )
  })
})

describe('wire format with a tag section', () => {
  it('carries tags outside the payload and still reads entries of the earlier format', () => {
    const e = decode(encode({ a: 1 }, ['t', 'ünï'], 10, 20, 3, 0))
    assert.deepEqual(e.tags, ['t', 'ünï'])
    assert.deepEqual(e.value, { a: 1 })
    const untagged = decode(encode('v', undefined, 10, 20, 3, 0))
    assert.equal(untagged.tags, undefined)
    // format 1: header then msgpack [value, tags] (Packr with the same options)
    const legacyBody = new Packr({
      moreTypes: true,
      sequential: true,
      useRecords: true,
      mapsAsObjects: false,
    }).pack(['old', ['x']])
    const legacy = Buffer.alloc(21 + legacyBody.length)
    legacy[0] = 1
    legacy.writeDoubleBE(10, 1)
    legacy.writeDoubleBE(20, 9)
    legacyBody.copy(legacy, 21)
    const l = decode(legacy)
    assert.equal(l.value, 'old')
    assert.deepEqual(l.tags, ['x'])
  })
})
