import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { BreakerState, Cache } from '../../../src/cache/index.js'
import type { PrivateRedis } from '../../helpers/services.js'
import { Harness, PATIENT, tick, until } from './support.js'

const h = new Harness()
after(() => h.close())

interface Loop {
  /** Reads that completed with the right value, in total and while Redis was down. */
  ok: number
  okDuringOutage: number
  /** Anything that reached a caller: a rejection or a wrong value. */
  errors: unknown[]
  outage: boolean
  stop: boolean
  done: Promise<void>
}

/**
 * A bounded read loop of getOrSet: 5 hot keys (served by L1 once loaded) and a new cold key on
 * every round (an L1 miss, so L2 is asked and then the loader runs). 4 concurrent workers.
 */
function readLoop(cache: Cache, maxMs = 20_000): Loop {
  const loop: Loop = {
    ok: 0,
    okDuringOutage: 0,
    errors: [],
    outage: false,
    stop: false,
    done: Promise.resolve(),
  }
  const deadline = Date.now() + maxMs
  let round = 0
  const worker = async (w: number) => {
    while (!loop.stop && Date.now() < deadline) {
      const n = round++
      const keys = [`hot:${n % 5}`, `cold:${w}:${n}`]
      for (const key of keys) {
        try {
          const v = await cache.getOrSet(key, () => ({ key }))
          if (v.key !== key) loop.errors.push(new Error(`wrong value for ${key}: ${JSON.stringify(v)}`))
          else {
            loop.ok++
            if (loop.outage) loop.okDuringOutage++
          }
        } catch (err) {
          loop.errors.push(err)
        }
      }
      await tick(2)
    }
  }
  loop.done = Promise.all([0, 1, 2, 3].map(worker)).then(() => {})
  return loop
}

async function outage(
  name: string,
  down: (priv: PrivateRedis) => Promise<void>,
  up: (priv: PrivateRedis) => Promise<void>,
) {
  const priv = await h.privateRedis()
  const prefix = h.prefix(name, priv.url)
  const cache = h.cache(prefix, { redis: { connection: priv.url, timeout: 100 } })
  const states: BreakerState[] = []
  cache.on('breaker', (e) => states.push(e.state))
  await h.ready(cache)
  const loop = readLoop(cache)
  try {
    await until(() => loop.ok >= 20, 'the loop runs against a healthy Redis')
    await h.ready(cache)
    states.length = 0
    const loadsBefore = cache.stats().loader.calls
    loop.outage = true
    await down(priv)
    await until(
      () => states.includes('open'),
      "the breaker opens during the outage (a 'breaker' event)",
      5000,
    )
    await until(() => cache.stats().l2.breaker !== 'closed', 'stats() shows the breaker not closed', 2000)
    // keep Redis down for about a second while the loop goes on
    await tick(1000)
    await until(() => loop.okDuringOutage >= 10, 'reads keep completing while Redis is down', 5000)
    assert.ok(cache.stats().loader.calls > loadsBefore, 'the loader served the L1 misses')
    await up(priv)
    loop.outage = false
    await until(() => cache.stats().l2.breaker === 'closed', 'the breaker closes after Redis returns', 5000)
    assert.equal(states.at(-1), 'closed')
    // L2 is used again: a value another instance sets becomes visible, as an L2 hit
    const hitsBefore = cache.stats().l2.hits
    const writer = h.cache(prefix, { redis: { connection: priv.url, timeout: PATIENT }, memory: false })
    await writer.set('after-outage', { key: 'after-outage', from: 'writer' })
    await until(
      async () => (await cache.get<{ from: string }>('after-outage'))?.from === 'writer',
      "the writer's value is read from L2 again",
      5000,
    )
    assert.ok(cache.stats().l2.hits > hitsBefore, 'the L2 hit counter rises again')
    // and writes reach L2 again
    await cache.set('written-after', 1)
    assert.equal(await writer.get('written-after'), 1)
  } finally {
    loop.stop = true
    await loop.done
  }
  assert.deepEqual(loop.errors, [], 'no error reached a caller during the whole loop')
  assert.ok(loop.ok > 0)
  return { cache, states }
}

describe('Redis outage (private redis-server)', () => {
  it('paused Redis: zero errors reach callers, the breaker opens, then closes and L2 serves again', async () => {
    const { cache } = await outage(
      'outage-pause',
      async (priv) => priv.pause(),
      async (priv) => priv.resume(),
    )
    assert.ok(cache.stats().l2.timeouts > 0, 'the outage was seen as L2 timeouts')
  })

  it('stopped Redis: zero errors reach callers, the breaker opens, then closes after restart', async () => {
    await outage(
      'outage-stop',
      (priv) => priv.stop(),
      (priv) => priv.start(),
    )
  })

  it('close() does not hang while Redis is paused', async () => {
    const priv = await h.privateRedis()
    const prefix = h.prefix('outage-close', priv.url)
    const cache = h.cache(prefix, { redis: { connection: priv.url, timeout: 100 } })
    await cache.set('k', 1)
    priv.pause()
    try {
      let closed = false
      const closing = cache.close().then(() => {
        closed = true
      })
      // a liveness bound, not a duration assertion: shutdown must not wait for a frozen server
      await until(() => closed, 'close() resolves while Redis does not answer', 5000)
      await closing
    } finally {
      priv.resume()
    }
  })
})

describe('first connection (moved from core.test.ts)', () => {
  const hf = new Harness()
  after(() => hf.close())

  it('a slow first connection is not taken for a slow Redis (regression: new caches opened their breaker)', async () => {
    const priv = await hf.privateRedis()
    const writer = hf.cache('first-connect:', { memory: false, redis: priv.url })
    await writer.set('k', 'v')
    priv.pause()
    const cache = hf.cache('first-connect:', { memory: false, redis: { connection: priv.url, timeout: 100 } })
    const states: string[] = []
    cache.on('breaker', (e) => states.push(e.state))
    const read = cache.get('k')
    await tick(400) // four timeouts' worth of waiting to connect
    priv.resume()
    assert.equal(await read, 'v', 'the read waited for the connection instead of timing out')
    assert.deepEqual(states, [])
  })
})
