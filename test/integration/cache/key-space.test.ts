import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Harness, until } from './support.js'

const h = new Harness()
after(() => h.close())

it('namespaces, keys, tags and internal keys never share an entry (regression: one flat key space)', async () => {
  const prefix = h.prefix('keyspace')
  const root = h.cache(prefix)
  const reader = h.cache(prefix, { memory: false })
  const a = root.namespace('a')
  const ab = root.namespace('a:b')
  await a.set('b:c', 'in a')
  await ab.set('c', 'in a:b')
  await root.set('a:b:c', 'root')
  for (const c of [root, reader]) {
    assert.equal(await c.namespace('a').get('b:c'), 'in a')
    assert.equal(await c.namespace('a:b').get('c'), 'in a:b')
    assert.equal(await c.get('a:b:c'), 'root')
  }
  // a key that looks like an encoded namespace is still a root key
  await root.set('@1:ab:c', 'looks namespaced')
  assert.equal(await reader.namespace('a').get('b:c'), 'in a')
  assert.equal(await reader.get('@1:ab:c'), 'looks namespaced')

  // namespace('a').clear() leaves the root key a:x and the sibling namespace a:b alone
  await root.set('a:x', 'root x')
  await a.set('x', 'a x')
  await a.clear()
  assert.equal(await reader.namespace('a').get('x'), undefined)
  assert.equal(await reader.get('a:x'), 'root x')
  assert.equal(await reader.namespace('a:b').get('c'), 'in a:b')

  // tags: namespace('a') tag 'b:c' is not namespace('a:b') tag 'c'
  await ab.set('tagged', 1, { tags: ['c'] })
  await a.set('tagged', 2, { tags: ['b:c'] })
  await a.deleteByTag('b:c')
  assert.equal(await reader.namespace('a:b').get('tagged'), 1)
  assert.equal(await reader.namespace('a').get('tagged'), undefined)

  // a root key named like the internal tag set of 'users' does not take it over
  await root.set('@t:users', 'just a key')
  await root.set('__t:users', 'also a key')
  await root.set('u1', 'user', { tags: ['users'] })
  assert.equal(root.stats().l2.refused, 0, 'no WRONGTYPE')
  await root.deleteByTag('users')
  assert.equal(await reader.get('u1'), undefined)
  assert.equal(await reader.get('@t:users'), 'just a key')
  assert.equal(await reader.get('__t:users'), 'also a key')
})

it('a clear of a namespace reaches other instances and spares their root keys', async () => {
  const prefix = h.prefix('keyspace-bus')
  const w = h.cache(prefix)
  const r = h.cache(prefix)
  await h.ready(w)
  await h.ready(r)
  await r.set('a:x', 1, { skipL2: true })
  await r.namespace('a').set('x', 2, { skipL2: true })
  await w.namespace('a').clear()
  await until(() => r.namespace('a').getSync('x') === undefined, 'namespace a cleared on the other instance')
  assert.equal(r.getSync('a:x'), 1)
})
