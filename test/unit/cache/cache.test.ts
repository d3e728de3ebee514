import assert from 'node:assert/strict'
import { createHook } from 'node:async_hooks'
import { describe, it } from 'node:test'
import { z } from 'zod'
import { createCache } from '../../../src/cache/index.js'
import { isRefusal } from '../../../src/cache/l2-guard.js'
import { isHotpathError } from '../../../src/errors.js'
import { FakeClock } from '../../../src/time.js'

function deferred<T>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const flush = () => new Promise<void>((r) => setImmediate(r))

describe('createCache options', () => {
  it('rejects bad options naming the option and the value', () => {
    assert.throws(() => createCache({ memory: { maxEntries: 0 } }), {
      name: 'RangeError',
      message: /memory\.maxEntries.*0/,
    })
    assert.throws(
      () => createCache({ memory: { maxEntries: Number.POSITIVE_INFINITY } }),
      /memory\.maxEntries/,
    )
    assert.throws(() => createCache({ memory: { maxBytes: -5 } }), /memory\.maxBytes.*-5/)
    assert.throws(() => createCache({ ttl: 'soon' as never }), { name: 'RangeError', message: /ttl.*"soon"/ })
    assert.throws(() => createCache({ ttl: 0 }), /ttl must be greater than 0/)
    assert.throws(() => createCache({ memory: false }), /at least one tier/)
    assert.throws(() => createCache({ lock: true }), /lock needs redis/)
    assert.throws(() => createCache({ redis: 'http://x' }), /redis:\/\//)
    assert.throws(() => createCache({ tags: [''] }), /tags/)
    assert.throws(() => createCache({ types: { user: { grace: 'x' as never } } }), /types\.user\.grace/)
  })
})

describe('cache (memory tier, fake clock)', () => {
  it('getOrSet runs the loader once for concurrent callers and caches the value until ttl', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, ttl: 1000 })
    let calls = 0
    const d = deferred<string>()
    const all = Promise.all(
      Array.from({ length: 100 }, () =>
        cache.getOrSet('k', () => {
          calls++
          return d.promise
        }),
      ),
    )
    await flush()
    d.resolve('v')
    assert.deepEqual(new Set(await all), new Set(['v']))
    assert.equal(calls, 1)
    assert.equal(await cache.getOrSet('k', () => 'other'), 'v')
    clock.advance(1000)
    assert.equal(await cache.getOrSet('k', () => 'new'), 'new')
    assert.equal(cache.stats().loader.calls, 2)
  })

  it('get, getSync, peek and set', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, ttl: 100 })
    assert.equal(await cache.get('a'), undefined)
    await cache.set('a', { n: 1 })
    assert.deepEqual(await cache.get('a'), { n: 1 })
    assert.deepEqual(cache.getSync('a'), { n: 1 })
    clock.advance(100)
    assert.equal(cache.getSync('a'), undefined)
    assert.equal(await cache.get('a'), undefined)
    await assert.rejects(cache.set('a', undefined), TypeError)
  })

  it('rejects bad keys with E_INVALID_KEY', async () => {
    const cache = createCache({ maxKeyLength: 10 })
    for (const key of ['', 'x'.repeat(11), 42 as never]) {
      await assert.rejects(cache.get(key), (e) => isHotpathError(e, 'E_INVALID_KEY'))
      await assert.rejects(
        cache.getOrSet(key, () => 1),
        (e) => isHotpathError(e, 'E_INVALID_KEY'),
      )
    }
    assert.throws(
      () => cache.getSync(''),
      (e) => isHotpathError(e, 'E_INVALID_KEY'),
    )
  })

  it('a loader error becomes E_LOADER and is not cached', async () => {
    const cache = createCache({})
    await assert.rejects(
      cache.getOrSet('k', () => {
        throw new Error('db down')
      }),
      (e) => isHotpathError(e, 'E_LOADER') && (e as Error).message.includes('db down'),
    )
    assert.equal(await cache.getOrSet('k', () => 'ok'), 'ok')
  })

  it('grace: serves the stale value when the loader fails, until grace ends', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, ttl: 100, grace: 1000 })
    await cache.set('k', 'old')
    clock.advance(150)
    const failing = () => Promise.reject(new Error('down'))
    assert.equal(await cache.getOrSet('k', failing), 'old')
    assert.equal(cache.stats().staleServes, 1)
    clock.advance(1000)
    await assert.rejects(cache.getOrSet('k', failing), (e) => isHotpathError(e, 'E_LOADER'))
  })

  it('soft timeout: returns stale after the soft timeout and refreshes in the background', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, ttl: 100, grace: 10_000, timeouts: { soft: 50 } })
    await cache.set('k', 'old')
    clock.advance(200)
    const d = deferred<string>()
    const p = cache.getOrSet('k', () => d.promise)
    await flush()
    clock.advance(50)
    assert.equal(await p, 'old')
    d.resolve('new')
    await flush()
    await flush()
    assert.equal(cache.getSync('k'), 'new')
  })

  it('a caller joining a running load is never served a stale value past ttl + grace (regression)', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, ttl: 100, grace: 1000, timeouts: { soft: 50 } })
    await cache.set('k', 'old')
    clock.advance(200)
    const d = deferred<string>()
    const first = cache.getOrSet('k', () => d.promise)
    await flush()
    clock.advance(50)
    assert.equal(await first, 'old')
    clock.advance(840) // 10 ms of grace left
    const late = cache.getOrSet('k', () => d.promise)
    let settled = false
    late.then(() => {
      settled = true
    })
    await flush()
    clock.advance(50) // the soft timeout fires after the grace ended
    await flush()
    assert.equal(settled, false, 'not answered with the value whose grace ended')
    d.resolve('new')
    assert.equal(await late, 'new')
  })

  it('hard timeout: rejects with E_LOADER_TIMEOUT and aborts the loader signal', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, timeouts: { hard: 100 } })
    let signal: AbortSignal | undefined
    const p = cache.getOrSet('k', (ctx) => {
      signal = ctx.signal
      return new Promise<string>(() => {})
    })
    await flush()
    clock.advance(100)
    await assert.rejects(p, (e) => isHotpathError(e, 'E_LOADER_TIMEOUT'))
    assert.equal(signal?.aborted, true)
    assert.equal(cache.stats().loader.timeouts, 1)
  })

  it('the loader signal is made on first read: read after the hard timeout or close, it is already aborted', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, timeouts: { hard: 100 } })
    let ctxOf: { readonly signal: AbortSignal; readonly key: string } | undefined
    const p = cache.getOrSet('k', (ctx) => {
      ctxOf = ctx
      return new Promise<string>(() => {})
    })
    await flush()
    clock.advance(100)
    await assert.rejects(p, (e) => isHotpathError(e, 'E_LOADER_TIMEOUT'))
    assert.equal(ctxOf?.key, 'k')
    assert.equal(ctxOf?.signal.aborted, true, 'read late, after the timeout')
    assert.ok(isHotpathError(ctxOf?.signal.reason, 'E_LOADER_TIMEOUT'), 'with the timeout as its reason')
    assert.equal(ctxOf?.signal, ctxOf?.signal, 'one signal per load')

    const other = createCache({})
    let late: { readonly signal: AbortSignal } | undefined
    let early: AbortSignal | undefined
    const q = other.getOrSet('a', (ctx) => {
      late = ctx
      return new Promise<string>(() => {})
    })
    const r = other.getOrSet('b', (ctx) => {
      early = ctx.signal
      return new Promise<string>(() => {})
    })
    q.catch(() => {})
    r.catch(() => {})
    await flush()
    assert.equal(early?.aborted, false)
    await other.close()
    assert.equal(early?.aborted, true, 'a signal read before close() is aborted by it')
    assert.equal(late?.signal.aborted, true, 'a signal first read after close() is aborted too')
    assert.ok(isHotpathError(late?.signal.reason, 'E_CLOSED'))
  })

  it('stale-while-revalidate: answers stale at once and refreshes once', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, ttl: 100, grace: 1000, staleWhileRevalidate: 500 })
    await cache.set('k', 'old')
    clock.advance(150)
    let calls = 0
    const d = deferred<string>()
    const loader = () => {
      calls++
      return d.promise
    }
    assert.equal(await cache.getOrSet('k', loader), 'old')
    assert.equal(await cache.getOrSet('k', loader), 'old')
    d.resolve('new')
    await flush()
    await flush()
    assert.equal(calls, 1)
    assert.equal(await cache.getOrSet('k', loader), 'new')
  })

  it('XFetch: refreshes early near expiry in proportion to the last load time', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, ttl: 10_000, earlyRefreshBeta: 1 })
    let calls = 0
    const loader = async () => {
      calls++
      clock.advance(1000) // the load takes 1s: delta = 1000ms
      return calls
    }
    // fake clock advances inside the loader, but performance.now() measures delta: use a slow real loader instead
    const slow = () =>
      new Promise<number>((r) =>
        setTimeout(() => {
          calls++
          r(calls)
        }, 20),
      )
    void loader
    assert.equal(await cache.getOrSet('k', slow), 1)
    const random = Math.random
    try {
      // far from expiry: no refresh even with an extreme draw
      Math.random = () => 1e-300
      clock.advance(1000)
      assert.equal(await cache.getOrSet('k', slow), 1)
      assert.equal(calls, 1)
      // 5ms before expiry with delta ~20ms: -ln(0.5) * 20 = ~14ms >= 5ms -> refresh
      clock.advance(10_000 - 1000 - 5)
      Math.random = () => 0.5
      assert.equal(await cache.getOrSet('k', slow), 1, 'the current value is served during the refresh')
    } finally {
      Math.random = random
    }
    await new Promise((r) => setTimeout(r, 40))
    assert.equal(calls, 2)
    assert.equal(cache.stats().loader.earlyRefreshes, 1)
  })

  it('schema: a cached value that fails validation is a miss, never an error', async () => {
    const cache = createCache({})
    const User = z.object({ id: z.number(), name: z.string() })
    await cache.set('u', { id: 1 })
    const u = await cache.getOrSet('u', () => ({ id: 1, name: 'Ada' }), { schema: User })
    assert.deepEqual(u, { id: 1, name: 'Ada' })
    assert.deepEqual(await cache.get('u', { schema: User }), { id: 1, name: 'Ada' })
    await cache.set('u', { id: 'x' })
    assert.equal(await cache.get('u', { schema: User }), undefined)
  })

  it('type policies supply ttl and tags; unknown types are rejected', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, ttl: 10_000, types: { session: { ttl: 50, tags: ['sessions'] } } })
    await cache.set('s1', 'a', { type: 'session' })
    await cache.set('s2', 'b', { type: 'session' })
    await cache.set('other', 'c')
    await cache.deleteByTag('sessions')
    assert.equal(cache.getSync('s1'), undefined)
    assert.equal(cache.getSync('other'), 'c')
    await cache.set('s3', 'd', { type: 'session' })
    clock.advance(50)
    assert.equal(cache.getSync('s3'), undefined)
    await assert.rejects(cache.get('x', { type: 'nope' }), /type "nope"/)
  })

  it('expireByTag is soft: stale values are served within grace when the loader fails', async () => {
    const cache = createCache({ grace: '1h', tags: ['all'] })
    await cache.set('a', 1)
    await cache.expireByTag('all')
    assert.equal(cache.getSync('a'), undefined)
    assert.equal(await cache.getOrSet('a', () => Promise.reject(new Error('x'))), 1)
  })

  it('namespaces isolate keys, tags and clear()', async () => {
    const cache = createCache({})
    const a = cache.namespace('a')
    const b = cache.namespace('b')
    await a.set('k', 'A', { tags: ['t'] })
    await b.set('k', 'B', { tags: ['t'] })
    assert.equal(await a.get('k'), 'A')
    assert.equal(await b.get('k'), 'B')
    await a.deleteByTag('t')
    assert.equal(await a.get('k'), undefined)
    assert.equal(await b.get('k'), 'B')
    await b.set('j', 1)
    await b.clear()
    assert.equal(await b.get('j'), undefined)
    await cache.set('root', 1)
    await a.clear()
    assert.equal(await cache.get('root'), 1)
  })

  it('cache-level default tags are scoped to the namespace view that stored the value', async () => {
    const cache = createCache({ tags: ['all'] })
    const a = cache.namespace('a')
    await a.set('k', 1)
    await cache.set('k', 2)
    await a.deleteByTag('all')
    assert.equal(await a.get('k'), undefined)
    assert.equal(await cache.get('k'), 2)
  })

  it('getMany and getOrSetMany load only the missing keys, once', async () => {
    const cache = createCache({})
    await cache.set('a', 1)
    assert.deepEqual(await cache.getMany(['a', 'b']), [1, undefined])
    const asked: string[][] = []
    const values = await cache.getOrSetMany(['a', 'b', 'c', 'b'], async (keys) => {
      asked.push(keys)
      return keys.map((k) => k.toUpperCase())
    })
    assert.deepEqual(values, [1, 'B', 'C', 'B'])
    assert.deepEqual(asked, [['b', 'c']])
    const fromMap = await cache.getOrSetMany(['d'], async () => new Map([['d', 4]]))
    assert.deepEqual(fromMap, [4])
    assert.equal(await cache.get('d'), 4)
  })

  it('warm() from entries and from a batch loader', async () => {
    const cache = createCache({})
    assert.equal(
      await cache.warm([
        { key: 'a', value: 1 },
        { key: 'b', value: 2, ttl: '1m' },
      ]),
      2,
    )
    assert.equal(
      await cache.warm({
        keys: ['c', 'd', 'e'],
        loader: async (keys) => keys.map((k) => k.repeat(2)),
        batchSize: 2,
      }),
      3,
    )
    assert.deepEqual(await cache.getMany(['a', 'b', 'c', 'e']), [1, 2, 'cc', 'ee'])
  })

  it('events cost nothing until subscribed and stop after dispose', async () => {
    const cache = createCache({})
    const hits: string[] = []
    await cache.set('a', 1)
    await cache.get('a')
    const off = cache.on('hit', (e) => hits.push(`${e.tier}:${e.key}`))
    await cache.get('a')
    off()
    await cache.get('a')
    assert.deepEqual(hits, ['l1:a'])
    assert.equal(cache.stats().l1.hits, 3)
  })

  it('reports L1 evictions with their reason', async () => {
    const cache = createCache({ memory: { maxEntries: 2 } })
    const reasons: string[] = []
    cache.on('evict', (e) => reasons.push(e.reason))
    for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i)
    assert.ok(reasons.length >= 3)
    assert.ok(cache.stats().l1.entries <= 2)
  })

  it('abort signal rejects the waiting caller with E_ABORTED', async () => {
    const cache = createCache({})
    const ac = new AbortController()
    const p = cache.getOrSet('k', () => new Promise<string>(() => {}), { signal: ac.signal })
    ac.abort()
    await assert.rejects(p, (e) => isHotpathError(e, 'E_ABORTED'))
    await cache.close()
  })

  it('after close(), calls fail with E_CLOSED', async () => {
    const cache = createCache({})
    await cache.close()
    await assert.rejects(cache.get('a'), (e) => isHotpathError(e, 'E_CLOSED'))
  })

  it('getSync checks keys and closing on a miss only: a stored key still throws E_CLOSED after close()', async () => {
    const cache = createCache({})
    const view = cache.namespace('v')
    await cache.set('a', 1)
    await cache.set('@a', 2)
    await view.set('a', 3)
    assert.deepEqual([cache.getSync('a'), cache.getSync('@a'), view.getSync('a')], [1, 2, 3])
    assert.equal(cache.getSync('absent'), undefined)
    assert.throws(
      () => cache.getSync(''),
      (e) => isHotpathError(e, 'E_INVALID_KEY'),
    )
    assert.throws(
      () => cache.getSync(42 as never),
      (e) => isHotpathError(e, 'E_INVALID_KEY'),
    )
    await cache.close()
    // the store was emptied and takes nothing more, so the hit path cannot answer after close
    assert.throws(
      () => cache.getSync('a'),
      (e) => isHotpathError(e, 'E_CLOSED'),
    )
    assert.throws(
      () => view.getSync('a'),
      (e) => isHotpathError(e, 'E_CLOSED'),
    )
    assert.equal(cache.stats().l1.entries, 0)
  })
})

describe('options refuse unknown keys', () => {
  it('names the closest valid key at every level', () => {
    assert.throws(() => createCache({ memroy: {} } as never), /unknown option "memroy".*"memory"/)
    assert.throws(() => createCache({ memory: { maxEntires: 5 } } as never), /maxEntires.*"maxEntries"/)
    assert.throws(() => createCache({ timeouts: { sfot: 1 } } as never), /sfot.*"soft"/)
    assert.throws(() => createCache({ types: { user: { tll: 1 } } } as never), /types\.user.*"ttl"/)
    const c = createCache({})
    return assert.rejects(
      c.getOrSet('k', () => 1, { tll: 5 } as never),
      /call options: unknown option "tll"/,
    )
  })
})

describe('getOrSetMany goes through the same loader machinery as getOrSet (regression: its copy had drifted)', () => {
  it('emits miss events, applies the hard timeout and aborts its loader on close()', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, timeouts: { hard: 100 } })
    const misses: string[] = []
    cache.on('miss', (e) => misses.push(e.key))
    let signal: AbortSignal | undefined
    const p = cache.getOrSetMany(['a', 'b'], (_keys, ctx) => {
      signal = ctx.signal
      return new Promise<string[]>(() => {})
    })
    await flush()
    assert.deepEqual(misses, ['a', 'b'])
    clock.advance(100)
    await assert.rejects(p, (e) => isHotpathError(e, 'E_LOADER_TIMEOUT'))
    assert.equal(signal?.aborted, true)
    // one batch call timed out: one timeout, like the one call it counts
    assert.deepEqual(cache.stats().loader, { calls: 1, errors: 0, timeouts: 1, earlyRefreshes: 0 })

    const other = createCache({})
    let closedSignal: AbortSignal | undefined
    const q = other.getOrSetMany(['x'], (_keys, ctx) => {
      closedSignal = ctx.signal
      return new Promise<string[]>(() => {})
    })
    q.catch(() => {})
    await flush()
    await other.close()
    assert.equal(closedSignal?.aborted, true, 'close() aborts the batch loader')
  })

  it('a getOrSet joining a key a batch is loading runs no loader of its own', async () => {
    const cache = createCache({})
    const d = deferred<string[]>()
    const many = cache.getOrSetMany(['a', 'b'], () => d.promise)
    await flush()
    let ran = false
    const one = cache.getOrSet('a', () => {
      ran = true
      return 'own'
    })
    d.resolve(['A', 'B'])
    assert.deepEqual(await many, ['A', 'B'])
    assert.equal(await one, 'A')
    assert.equal(ran, false)
  })
})

describe('the system clock, read once per turn of the event loop', () => {
  it('reads arm no timer (regression: a 1 ms timer per reading woke an idle loop every millisecond)', async () => {
    const cache = createCache({ memory: { maxEntries: 10, maxBytes: 100_000 } })
    await cache.set('k', 'v')
    await new Promise<void>((r) => setImmediate(r))
    let timers = 0
    const hook = createHook({
      init(_id, type) {
        if (type === 'Timeout') timers++
      },
    }).enable()
    try {
      assert.equal(cache.getSync('k'), 'v')
      assert.equal(cache.getSync('missing'), undefined)
      assert.equal(await cache.get('k'), 'v')
      assert.equal(await cache.getOrSet('other', () => 'loaded'), 'loaded')
    } finally {
      hook.disable()
    }
    assert.equal(timers, 0)
    await cache.close()
  })

  it('an entry past its TTL is not served once the loop has turned', async () => {
    const cache = createCache({ memory: { maxEntries: 10, maxBytes: 100_000 }, ttl: 30 })
    await cache.set('k', 'v')
    assert.equal(cache.getSync('k'), 'v')
    await new Promise<void>((r) => setTimeout(r, 60))
    assert.equal(cache.getSync('k'), undefined)
    await cache.close()
  })
})

describe('Cache.tiers', () => {
  it('tells what tiers the cache has, read-only', () => {
    const cache = createCache({})
    assert.deepEqual(cache.tiers, { l1: true, l2: false })
    assert.equal(cache.hasL2, false)
    assert.throws(() => {
      ;(cache as unknown as { hasL2: boolean }).hasL2 = true
    }, TypeError)
  })
})

describe('L2 reply errors', () => {
  const reply = (m: string) => Object.assign(new Error(m), { name: 'ReplyError' })
  it('a refusal is a reply Redis will always give; unavailability (also inside a script error) is not', () => {
    assert.equal(isRefusal(reply('OOM command not allowed when used memory > maxmemory')), true)
    assert.equal(isRefusal(reply('WRONGTYPE Operation against a key holding the wrong kind of value')), true)
    assert.equal(isRefusal(reply('LOADING Redis is loading the dataset in memory')), false)
    assert.equal(
      isRefusal(
        reply('ERR Error running script (call to f_1): @user_script:2: CLUSTERDOWN The cluster is down'),
      ),
      false,
    )
    assert.equal(isRefusal(new Error('Connection is closed.')), false)
  })
})

describe('call options resolved once per frozen object', () => {
  it('a frozen options object keeps its policy; an unfrozen one (or unfrozen timeouts) is read on every call', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, ttl: 1000 })
    const frozen = Object.freeze({ ttl: 50 })
    await cache.getOrSet('f1', () => 1, frozen)
    await cache.getOrSet('f2', () => 2, frozen)
    const open: { ttl: number } = { ttl: 50 }
    await cache.getOrSet('o1', () => 1, open)
    open.ttl = 500
    await cache.getOrSet('o2', () => 2, open)
    clock.advance(100)
    assert.equal(cache.getSync('f1'), undefined)
    assert.equal(cache.getSync('f2'), undefined, 'the frozen options kept ttl 50')
    assert.equal(cache.getSync('o1'), undefined)
    assert.equal(cache.getSync('o2'), 2, 'the changed ttl of an unfrozen options object applied')

    const timeouts = { hard: 0 }
    const outer = Object.freeze({ timeouts })
    await cache.getOrSet('t1', () => 1, outer)
    timeouts.hard = 10
    const slow = cache.getOrSet('t2', () => new Promise(() => {}), outer)
    clock.advance(10)
    await assert.rejects(slow, (e: unknown) => isHotpathError(e, 'E_LOADER_TIMEOUT'))
  })

  it('frozen options that fail validation are refused on every call', async () => {
    const cache = createCache({})
    const bad = Object.freeze({ ttl: -1 })
    await assert.rejects(
      cache.getOrSet('a', () => 1, bad),
      /ttl/,
    )
    await assert.rejects(
      cache.getOrSet('b', () => 1, bad),
      /ttl/,
    )
  })
})

describe('a loader that asks for its own key', () => {
  it('joins its own flight instead of loading the key again (the loader is called before getOrSet returns)', async () => {
    const cache = createCache({})
    let runs = 0
    let inner: Promise<number> | undefined
    const outer = await cache.getOrSet<number>('k', () => {
      runs++
      inner = cache.getOrSet<number>('k', () => {
        runs++
        return 99
      })
      return 1
    })
    assert.equal(outer, 1)
    assert.equal(await inner, 1, 'the inner call got the flight it joined')
    assert.equal(runs, 1)
    const many = await cache.getOrSetMany<number>(['k', 'm'], async (keys) => keys.map(() => 6))
    assert.deepEqual(many, [1, 6])
  })
})

describe('savedMs', () => {
  it('regression: hits answered by getSync added nothing to stats().savedMs (each hit counts its load duration)', async () => {
    const cache = createCache({ ttl: 60_000 })
    await cache.getOrSet('k', () => new Promise((r) => setTimeout(() => r(1), 20)))
    assert.equal(cache.stats().savedMs, 0, 'a miss saves nothing')
    await cache.get('k')
    const load = cache.stats().savedMs
    assert.ok(load > 0, `one hit saves the load's duration (${load} ms)`)
    assert.equal(cache.getSync('k'), 1)
    assert.equal(cache.getSync('k'), 1)
    const s = cache.stats()
    assert.equal(s.l1.hits, 3)
    assert.ok(
      Math.abs(s.savedMs - 3 * load) < 1e-6,
      `3 hits save 3 loads: ${s.savedMs} ms against ${3 * load}`,
    )
    await cache.close()
  })
})

describe('loader figures of batch loads', () => {
  it('regression: one failed (or timed out) getOrSetMany batch call counted a loader error (or timeout) per key', async () => {
    const clock = new FakeClock()
    const cache = createCache({ clock, ttl: 1000 })
    let calls = 0
    assert.deepEqual(
      await cache.getOrSetMany(['a', 'b', 'c'], async (keys) => {
        calls++
        return keys.map((k) => k.toUpperCase())
      }),
      ['A', 'B', 'C'],
    )
    await assert.rejects(
      cache.getOrSetMany(['d', 'e', 'f'], async () => {
        calls++
        throw new Error('boom')
      }),
    )
    const hung = cache.getOrSetMany(
      ['g', 'h', 'i'],
      () => {
        calls++
        return new Promise<string[]>(() => {})
      },
      { timeouts: { hard: 50 } },
    )
    hung.catch(() => {})
    await flush()
    clock.advance(50)
    await assert.rejects(hung, (e: unknown) => isHotpathError(e, 'E_LOADER_TIMEOUT'))
    assert.equal(calls, 3)
    assert.deepEqual(cache.stats().loader, { calls: 3, errors: 1, timeouts: 1, earlyRefreshes: 0 })
    await cache.close()
  })
})
