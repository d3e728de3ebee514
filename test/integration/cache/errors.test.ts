import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { barrier, Harness, primeL1, until } from './support.js'

const h = new Harness()
after(() => h.close())

const isSerialize = (e: unknown) => isHotpathError(e, 'E_SERIALIZE')

/** Resolves to the promise's outcome, or 'pending' if it has not settled within `ms` (a liveness bound). */
async function settled<T>(p: Promise<T>, ms = 2000): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let out: { value: T } | { error: unknown } | 'pending' = 'pending'
  p.then(
    (value) => {
      out = { value }
    },
    (error: unknown) => {
      out = { error }
    },
  )
  try {
    await until(() => out !== 'pending', 'the call settles', ms)
  } catch {
    return 'pending'
  }
  return out
}

describe('values that cannot be serialized', () => {
  it('set() of a value with a function inside rejects with E_SERIALIZE and keeps the old value in both tiers', async () => {
    const prefix = h.prefix('serialize')
    const a = h.cache(prefix)
    const b = h.cache(prefix)
    await h.subscribers(prefix, 2)
    await a.set('k', { ok: true })
    await primeL1(b, 'k', { ok: true }, a)
    const bad: unknown[] = [
      { fn: () => 1 },
      { deep: { list: [1, { cb() {} }] } },
      [1, () => 2],
      new Map([['handler', () => 3]]),
      new Set([() => 4]),
    ]
    for (const value of bad) await assert.rejects(a.set('k', value), isSerialize)
    const circular: Record<string, unknown> = { name: 'loop' }
    circular.self = circular
    await assert.rejects(a.set('k', circular), isSerialize)
    // the writer's L1 and L2 still hold the previous value
    assert.deepEqual(a.getSync('k'), { ok: true })
    const fresh = h.cache(prefix, { memory: false })
    assert.deepEqual(await fresh.get('k'), { ok: true })
    // no invalidation went out: after a later write's invalidation reached B, B still has k in L1
    await barrier(a, b)
    assert.deepEqual(b.getSync('k'), { ok: true })
    // the serializer is not left in a bad state: the next value round-trips between instances
    const next = { rows: [{ id: 1, at: new Date(7) }], tags: new Set(['a']) }
    await a.set('k', next)
    await until(() => b.getSync('k') === undefined, "B's L1 drops k after the good set")
    assert.deepEqual(await b.get('k'), next)
  })

  it('getOrSet whose loader returns a function value rejects with E_SERIALIZE and stores nothing', async () => {
    const prefix = h.prefix('serialize-loader')
    const a = h.cache(prefix)
    await assert.rejects(
      a.getOrSet('k', () => ({ fn: () => 1 })),
      isSerialize,
    )
    assert.equal(a.getSync('k'), undefined)
    assert.equal(await h.raw().exists(`${prefix}k`), 0)
    assert.equal(await a.getOrSet('k', () => 'fine'), 'fine')
  })

  it('getOrSetMany with one unserializable value rejects with E_SERIALIZE and leaves no key stuck', async () => {
    const prefix = h.prefix('serialize-many')
    const a = h.cache(prefix)
    const batch = a.getOrSetMany(['bad', 'good'], async () => ({ bad: { fn: () => 1 }, good: 'g' }))
    await assert.rejects(batch, isSerialize)
    // every key of the failed batch must be loadable afterwards; none may wait on a dead flight
    const after = await settled(a.getOrSet('good', () => 'reloaded'))
    assert.notEqual(after, 'pending', "getOrSet('good') after the failed batch never settles")
    assert.ok(typeof after === 'object' && 'value' in after)
    assert.ok(after.value === 'g' || after.value === 'reloaded')
    const many = await settled(a.getOrSetMany(['good', 'bad'], async (keys) => keys.map((k) => `${k}!`)))
    assert.notEqual(many, 'pending', 'getOrSetMany on the same keys never settles')
  })
})
