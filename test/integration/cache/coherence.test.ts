import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Harness, primeL1, until } from './support.js'

const h = new Harness()
after(() => h.close())

/** Two instances on one prefix, both subscribed to the invalidation bus. */
async function pair(name: string) {
  const prefix = h.prefix(name)
  const a = h.cache(prefix)
  const b = h.cache(prefix)
  await h.subscribers(prefix, 2)
  return { prefix, a, b }
}

describe('cross-instance L1 invalidation', () => {
  it('a set on A drops the key from B L1; B then reads the new value', async () => {
    const { a, b } = await pair('coh-set')
    await a.set('k', 'v1')
    await primeL1(b, 'k', 'v1', a)
    await a.set('k', 'v2')
    await until(() => b.getSync('k') === undefined, "B's L1 drops k after A's set")
    assert.equal(await b.get('k'), 'v2')
    // and the other way round: B's set reaches A's L1
    await primeL1(a, 'k', 'v2', b)
    await b.set('k', 'v3')
    await until(() => a.getSync('k') === undefined, "A's L1 drops k after B's set")
    assert.equal(await a.get('k'), 'v3')
  })

  it('a delete on A drops the key from B L1 and from L2', async () => {
    const { prefix, a, b } = await pair('coh-delete')
    await a.set('k', 'v1')
    await a.set('m1', 1)
    await a.set('m2', 2)
    await a.set('keep', 'kept')
    await primeL1(b, 'k', 'v1', a)
    await primeL1(b, 'm1', 1, a)
    await primeL1(b, 'm2', 2, a)
    await primeL1(b, 'keep', 'kept', a)
    await a.delete('k')
    await until(() => b.getSync('k') === undefined, "B's L1 drops k after A's delete")
    assert.equal(await b.get('k'), undefined)
    await a.deleteMany(['m1', 'm2'])
    await until(
      () => b.getSync('m1') === undefined && b.getSync('m2') === undefined,
      "B's L1 drops m1 and m2 after A's deleteMany",
    )
    assert.deepEqual(await b.getMany(['m1', 'm2']), [undefined, undefined])
    assert.equal(b.getSync('keep'), 'kept', 'an unrelated key stays in L1')
    const fresh = h.cache(prefix, { memory: false })
    assert.deepEqual(await fresh.getMany(['k', 'm1', 'm2', 'keep']), [
      undefined,
      undefined,
      undefined,
      'kept',
    ])
  })

  it('deleteByTag on A drops tagged keys from B L1 and from L2, other tags untouched', async () => {
    const { prefix, a, b } = await pair('coh-tag')
    await a.set('t1', 1, { tags: ['group'] })
    await a.set('t2', 2, { tags: ['group', 'x'] })
    await a.set('u', 3, { tags: ['other'] })
    await primeL1(b, 't1', 1, a)
    await primeL1(b, 't2', 2, a)
    await primeL1(b, 'u', 3, a)
    await a.deleteByTag('group')
    await until(
      () => b.getSync('t1') === undefined && b.getSync('t2') === undefined,
      "B's L1 drops the keys tagged 'group'",
    )
    assert.equal(b.getSync('u'), 3, "a key tagged 'other' stays in B's L1")
    assert.deepEqual(await b.getMany(['t1', 't2', 'u']), [undefined, undefined, 3])
    const fresh = h.cache(prefix, { memory: false })
    assert.deepEqual(await fresh.getMany(['t1', 't2', 'u']), [undefined, undefined, 3])
  })

  it('clear() of a namespace on A drops it from B L1 and L2; other namespaces and the root stay', async () => {
    const { prefix, a, b } = await pair('coh-clear')
    const an1 = a.namespace('n1')
    const bn1 = b.namespace('n1')
    const bn2 = b.namespace('n2')
    const bn10 = b.namespace('n10')
    await an1.set('x', 1)
    await an1.set('y', 11)
    await a.namespace('n2').set('x', 2)
    await a.namespace('n10').set('x', 10)
    await a.set('x', 'root')
    await primeL1(bn1, 'x', 1, an1)
    await primeL1(bn1, 'y', 11, an1)
    await primeL1(bn2, 'x', 2, a.namespace('n2'))
    await primeL1(bn10, 'x', 10, a.namespace('n10'))
    await primeL1(b, 'x', 'root', a)
    await an1.clear()
    await until(
      () => bn1.getSync('x') === undefined && bn1.getSync('y') === undefined,
      "B's L1 drops namespace n1 after A clears it",
    )
    assert.equal(bn2.getSync('x'), 2, "namespace n2 stays in B's L1")
    assert.equal(bn10.getSync('x'), 10, "namespace n10 (same leading characters) stays in B's L1")
    assert.equal(b.getSync('x'), 'root', "the root key stays in B's L1")
    assert.equal(an1.getSync('x'), undefined, "A's own L1 dropped n1 too")
    assert.equal(a.namespace('n2').getSync('x'), 2, "A's L1 keeps n2")
    assert.equal(await bn1.get('x'), undefined)
    assert.equal(await bn1.get('y'), undefined)
    const fresh = h.cache(prefix, { memory: false })
    assert.equal(await fresh.namespace('n1').get('x'), undefined, 'n1 is gone from L2')
    assert.equal(await fresh.namespace('n1').get('y'), undefined)
    assert.equal(await fresh.namespace('n2').get('x'), 2, 'n2 is still in L2')
    assert.equal(await fresh.namespace('n10').get('x'), 10, 'n10 is still in L2')
    assert.equal(await fresh.get('x'), 'root', 'the root key is still in L2')
  })
})
