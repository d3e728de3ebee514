import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { StaleReason } from '../../../src/cache/index.js'
import { isHotpathError } from '../../../src/errors.js'
import { Harness, primeL1, tick, until } from './support.js'

const h = new Harness()
after(() => h.close())

function failing(calls: { n: number }) {
  return () => {
    calls.n++
    return Promise.reject(new Error('backend down'))
  }
}

describe('expireByTag is soft', () => {
  it('with grace: another instance serves the old value as stale from L2 when the loader throws', async () => {
    const prefix = h.prefix('expire-grace')
    const a = h.cache(prefix, { grace: '1h' })
    await a.set('p', 'old', { tags: ['prices'] })
    await a.set('q', 'untagged')
    await a.expireByTag('prices')
    // a new instance: nothing in its L1, the stale copy is only in L2
    const b = h.cache(prefix, { grace: '1h' })
    const reasons: StaleReason[] = []
    b.on('stale', (e) => reasons.push(e.reason))
    const calls = { n: 0 }
    assert.equal(await b.get('p'), undefined, 'get() returns only fresh values')
    assert.equal(await b.getOrSet('p', failing(calls)), 'old')
    assert.equal(calls.n, 1, 'the loader was tried first')
    assert.equal(b.stats().staleServes, 1)
    assert.deepEqual(reasons, ['loader-error'])
    assert.equal(await b.get('q'), 'untagged', 'an untagged key is still fresh')
    // the same through an instance without L1
    const c = h.cache(prefix, { memory: false })
    assert.equal(await c.getOrSet('p', failing(calls)), 'old')
    // a loader that works replaces the stale value for everyone
    assert.equal(await c.getOrSet('p', () => 'new'), 'new')
    assert.equal(await h.cache(prefix, { memory: false }).get('p'), 'new')
  })

  it('with grace: an instance holding the key in L1 expires it too and serves it stale', async () => {
    const prefix = h.prefix('expire-grace-l1')
    const a = h.cache(prefix, { grace: '1h' })
    const b = h.cache(prefix, { grace: '1h' })
    await h.subscribers(prefix, 2)
    await a.set('p', 'old', { tags: ['prices'] })
    await primeL1(b, 'p', 'old', a)
    await a.expireByTag('prices')
    await until(() => b.getSync('p') === undefined, "B's L1 copy is expired by the bus message")
    assert.equal(b.peek('p'), 'old', 'B keeps the expired value for grace')
    const calls = { n: 0 }
    assert.equal(await b.getOrSet('p', failing(calls)), 'old')
    assert.equal(calls.n, 1)
    assert.equal(b.stats().staleServes, 1)
  })

  it('without grace: expireByTag removes the value and the loader error surfaces as E_LOADER', async () => {
    const prefix = h.prefix('expire-nograce')
    const a = h.cache(prefix)
    const b = h.cache(prefix)
    await h.subscribers(prefix, 2)
    await a.set('p', 'old', { tags: ['prices'] })
    await primeL1(b, 'p', 'old', a)
    await a.expireByTag('prices')
    await until(() => b.getSync('p') === undefined, "B's L1 copy is expired by the bus message")
    const calls = { n: 0 }
    await assert.rejects(b.getOrSet('p', failing(calls)), (e) => isHotpathError(e, 'E_LOADER'))
    assert.equal(calls.n, 1)
    const c = h.cache(prefix)
    await assert.rejects(c.getOrSet('p', failing(calls)), (e) => isHotpathError(e, 'E_LOADER'))
    await assert.rejects(a.getOrSet('p', failing(calls)), (e) => isHotpathError(e, 'E_LOADER'))
    assert.equal(await h.raw().exists(`${prefix}p`), 0, 'the L2 entry is gone')
    assert.equal(b.stats().staleServes + c.stats().staleServes + a.stats().staleServes, 0)
  })
})

describe('a stale copy found in L2 (moved from core.test.ts)', () => {
  const hs = new Harness()
  after(() => hs.close())

  it('stale-while-revalidate and the soft timeout use a stale copy found in L2', async () => {
    const prefix = hs.prefix('swr-l2')
    const a = hs.cache(prefix, { ttl: 30, grace: '1h' })
    const b = hs.cache(prefix, { memory: false, grace: '1h', staleWhileRevalidate: '1h' })
    await a.set('k', 'old')
    await tick(50) // let the 30 ms TTL pass: the point is an expired copy
    let release!: (v: string) => void
    let calls = 0
    const loader = () => {
      calls++
      return new Promise<string>((r) => {
        release = r
      })
    }
    assert.equal(await b.getOrSet('k', loader), 'old')
    assert.equal(await b.getOrSet('k', loader), 'old')
    assert.equal(calls, 1)
    release('new')
    await until(async () => (await b.get('k')) === 'new', 'the background refresh lands')
    const c = hs.cache(prefix, { memory: false, grace: '1h', timeouts: { soft: 20 } })
    await a.set('s', 'old-s', { ttl: 30 })
    await tick(50)
    assert.equal(await c.getOrSet('s', () => new Promise<string>(() => {})), 'old-s')
    assert.equal(c.stats().staleServes, 1)
  })
})
