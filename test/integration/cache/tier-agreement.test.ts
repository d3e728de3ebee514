import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { Harness } from './support.js'

const h = new Harness()
after(() => h.close())

it('L1 and L2 return the same value or refuse it with a coded error (regression: -0, __proto__, lone surrogates)', async () => {
  const prefix = h.prefix('agree')
  const cache = h.cache(prefix)
  const l2only = h.cache(prefix, { memory: false })
  await assert.rejects(cache.set('neg', -0), (e) => isHotpathError(e, 'E_SERIALIZE'))
  await assert.rejects(cache.set('neg', { a: [1, -0] }), (e) => isHotpathError(e, 'E_SERIALIZE'))
  const proto = JSON.parse('{"__proto__": {"x": 1}, "y": 2}')
  await assert.rejects(cache.set('proto', proto), (e) => isHotpathError(e, 'E_SERIALIZE'))
  assert.equal(cache.getSync('neg'), undefined, 'nothing half-stored in L1')
  await assert.rejects(cache.set('a\uD800', 1), (e) => isHotpathError(e, 'E_INVALID_KEY'))
  await assert.rejects(cache.get('a\uDBFF'), (e) => isHotpathError(e, 'E_INVALID_KEY'))
  await assert.rejects(cache.set('ok', 1, { tags: ['t\uDC00'] }), TypeError)
  // well-formed text, including astral characters, round-trips in both tiers
  const v = { emoji: '😀', zero: 0, n: -1.5 }
  await cache.set('😀', v)
  assert.deepEqual(cache.getSync('😀'), v)
  assert.deepEqual(await l2only.get('😀'), v)
})
