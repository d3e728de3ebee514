import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { z } from 'zod'
import type { CacheOptions } from '../../../src/cache/index.js'
import { Harness, primeL1, until } from './support.js'

const h = new Harness()
after(() => h.close())

describe('tags in L2 across instances', () => {
  it('deleteByTag on one instance removes tagged entries written by another, in L1 and L2', async () => {
    const prefix = h.prefix('tags')
    const a = h.cache(prefix)
    const b = h.cache(prefix)
    await h.subscribers(prefix, 2)
    await a.set('u:1', 1, { tags: ['users'] })
    await a.set('u:2', 2, { tags: ['users', 'vip'] })
    await a.getOrSet('u:3', () => 3, { tags: ['users'] })
    await a.set('o:1', 'order', { tags: ['orders'] })
    assert.equal(a.getSync('u:1'), 1)
    await b.deleteByTag('users')
    await until(
      () =>
        a.getSync('u:1') === undefined && a.getSync('u:2') === undefined && a.getSync('u:3') === undefined,
      "A's L1 drops every key tagged 'users'",
    )
    assert.equal(a.getSync('o:1'), 'order')
    const fresh = h.cache(prefix, { memory: false })
    assert.deepEqual(await fresh.getMany(['u:1', 'u:2', 'u:3', 'o:1']), [
      undefined,
      undefined,
      undefined,
      'order',
    ])
    // several tags at once
    await a.set('x', 'x', { tags: ['vip'] })
    await b.deleteByTag(['orders', 'vip'])
    assert.deepEqual(await fresh.getMany(['x', 'o:1']), [undefined, undefined])
  })

  it('tags are scoped to the namespace that wrote them', async () => {
    const prefix = h.prefix('tags-ns')
    const a = h.cache(prefix)
    const b = h.cache(prefix)
    await a.namespace('n1').set('k', 1, { tags: ['t'] })
    await a.namespace('n2').set('k', 2, { tags: ['t'] })
    await a.set('k', 0, { tags: ['t'] })
    await b.namespace('n1').deleteByTag('t')
    const fresh = h.cache(prefix, { memory: false })
    assert.equal(await fresh.namespace('n1').get('k'), undefined)
    assert.equal(await fresh.namespace('n2').get('k'), 2)
    assert.equal(await fresh.get('k'), 0)
    await b.deleteByTag('t')
    assert.equal(await fresh.namespace('n2').get('k'), 2, "the root's tag does not reach into a namespace")
    assert.equal(await fresh.get('k'), undefined)
  })
})

describe('per-type policies', () => {
  const options: CacheOptions = {
    types: {
      user: { ttl: '1m', tags: ['users'] },
      profile: { ttl: '2m', tags: ['users'], schema: z.object({ id: z.number(), bio: z.string() }) },
    },
  }

  it("a type's tags are applied so deleteByTag removes its values on every instance", async () => {
    const prefix = h.prefix('types')
    const a = h.cache(prefix, options)
    const b = h.cache(prefix, options)
    await h.subscribers(prefix, 2)
    await a.set('u:1', { id: 1 }, { type: 'user' })
    await a.getOrSet('u:2', () => ({ id: 2 }), { type: 'user' })
    await a.getOrSetMany(['u:3'], async () => [{ id: 3 }], { type: 'user' })
    await a.set('plain', 'no type')
    await primeL1(b, 'u:1', { id: 1 }, a)
    await primeL1(b, 'u:2', { id: 2 }, a)
    await primeL1(b, 'u:3', { id: 3 }, a)
    // the type's ttl reached L2 (PX = ttl + grace, grace 0)
    const pttl = await h.raw().pttl(`${prefix}u:1`)
    assert.ok(pttl > 0 && pttl <= 60_000, `L2 ttl follows the type's 1m; got ${pttl}`)
    await a.deleteByTag('users')
    await until(
      () =>
        b.getSync('u:1') === undefined && b.getSync('u:2') === undefined && b.getSync('u:3') === undefined,
      "B's L1 drops the 'user' values",
    )
    assert.equal(a.getSync('u:1'), undefined)
    const fresh = h.cache(prefix, { memory: false })
    assert.deepEqual(await fresh.getMany(['u:1', 'u:2', 'u:3', 'plain']), [
      undefined,
      undefined,
      undefined,
      'no type',
    ])
  })

  it("a type's schema applies to reads; its tags work inside a namespace", async () => {
    const prefix = h.prefix('types-schema')
    const a = h.cache(prefix, options)
    const ns = a.namespace('tenant1')
    await ns.set('p:1', { id: 1 }) // an old value without bio
    let calls = 0
    const p = await h
      .cache(prefix, options)
      .namespace('tenant1')
      .getOrSet(
        'p:1',
        () => {
          calls++
          return { id: 1, bio: 'hello' }
        },
        { type: 'profile' },
      )
    assert.deepEqual(p, { id: 1, bio: 'hello' })
    assert.equal(calls, 1)
    await a.namespace('tenant2').set('p:1', { id: 1, bio: 'other tenant' }, { type: 'profile' })
    await h.cache(prefix, options).namespace('tenant1').deleteByTag('users')
    const fresh = h.cache(prefix, { memory: false })
    assert.equal(await fresh.namespace('tenant1').get('p:1'), undefined)
    assert.deepEqual(await fresh.namespace('tenant2').get('p:1'), { id: 1, bio: 'other tenant' })
  })
})

describe('tag operations touch only entries that still carry the tag', () => {
  const h2 = new Harness()
  after(() => h2.close())

  it('deleteByTag and expireByTag spare an entry re-set without the tag, in both tiers (regression)', async () => {
    const prefix = h2.prefix('retag')
    const cache = h2.cache(prefix)
    const reader = h2.cache(prefix, { memory: false })
    await cache.set('k', 'tagged', { tags: ['t', 'u'] })
    await cache.set('k', 'untagged')
    await cache.set('j', 'retagged', { tags: ['t'] })
    await cache.set('j', 'other tag', { tags: ['v'] })
    await cache.deleteByTag('t')
    await cache.expireByTag('u')
    assert.equal(cache.getSync('k'), 'untagged')
    assert.equal(await reader.get('k'), 'untagged')
    assert.equal(await reader.get('j'), 'other tag')
    await cache.deleteByTag('v')
    assert.equal(await reader.get('j'), undefined, 'the tag it carries still works')
  })
})
