import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { Harness, until } from './support.js'

const h = new Harness()
after(() => h.close())

it('malformed invalidation messages are ignored, counted and reported; none throws or flushes L1', async () => {
  const prefix = h.prefix('badbus')
  const cache = h.cache(prefix)
  await h.ready(cache)
  await h.subscribers(prefix, 1)
  await cache.set('kept', 1, { skipL2: true })
  const reported: unknown[] = []
  cache.on('l2-error', (e) => {
    if (e.op === 'invalidation') reported.push(e.error)
  })
  const raw = h.raw()
  const bad = [
    'x|null',
    'no-sender-id',
    'x|{"t":"c","k":[""]}',
    'x|{"t":"d","k":[""]}',
    'x|{"t":"s","k":[1]}',
    'x|{"t":"s"}',
    'x|{"t":"zz","k":["kept"]}',
    'x|{"t":"te","k":["t"],"at":"soon"}',
    'x|{"t":"f","k":["kept"]}',
    'x|[',
  ]
  for (const m of bad) await raw.publish(`${prefix}__inv`, m)
  await until(() => cache.stats().l2.busMalformed === bad.length, `all ${bad.length} counted`)
  assert.equal(reported.length, bad.length)
  assert.equal(cache.getSync('kept'), 1, 'L1 was not flushed')
  // a valid message still works after the bad ones
  await raw.publish(`${prefix}__inv`, 'x|{"t":"d","k":["kept"]}')
  await until(() => cache.getSync('kept') === undefined, 'a valid delete is applied')
})
