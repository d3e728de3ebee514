/**
 * Cache benchmarks: hotpath/cache against lru-cache 11, BentoCache 1.x and cache-manager 7,
 * each measured in this same process run. See bench/README.md for recorded figures.
 */
import { execFileSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import { tracingChannels as cacheTracing, createCache } from '../src/cache/index.js'
import { MemoryStore } from '../src/cache/memory/store.js'
import { cleanupPrefix, PrivateRedis, REDIS_URL, uniquePrefix } from '../test/helpers/services.js'
import { beladyHitRatio, lruHitRatio, oursHitRatio, traces, zipf } from './cache-traces.js'
import { compareOps, concurrentOps, gc, report } from './lib/harness.js'

const SUITE = 'cache'
let sink: unknown
export function lastSink(): unknown {
  return sink
}

async function l1SyncHit(): Promise<void> {
  const N = 20_000
  const keys = Array.from({ length: N }, (_, i) => `user:${i}`)
  const lru = new LRUCache<string, object>({ max: N, ttl: 60_000 })
  const ours = createCache({ ttl: '1m', memory: { maxEntries: N } })
  // the bare store, to show what the Cache's checks around it cost
  const store = new MemoryStore({ maxEntries: N, maxBytes: 1e12, maxEntryBytes: 1e12 })
  const far = Date.now() + 3_600_000
  for (const k of keys) {
    lru.set(k, { k })
    await ours.set(k, { k })
    store.set(k, { k }, far, far, 0, 1, undefined)
  }
  const Z = 1 << 16
  const next = zipf(N, 0.9, 42)
  const trace = Array.from({ length: Z }, () => keys[next()] as string)
  const r = await compareOps(
    {
      ours: (n) => {
        for (let i = 0; i < n; i++) sink = ours.getSync(trace[i & (Z - 1)] as string)
      },
      store: (n) => {
        const now = Date.now()
        for (let i = 0; i < n; i++) sink = store.getFresh(trace[i & (Z - 1)] as string, now)
      },
      lru: (n) => {
        for (let i = 0; i < n; i++) sink = lru.get(trace[i & (Z - 1)] as string)
      },
    },
    { rounds: 21, roundMs: 150 },
  )
  report({
    suite: SUITE,
    name: 'L1 sync hit, Zipf(0.9) over 20k resident keys (getSync vs lru.get, TTL on)',
    ours: r.ours as number,
    peer: r.lru,
    peerName: 'lru-cache',
    unit: 'ops/s',
    higherIsBetter: true,
    target: '>= 0.9x',
  })
  report({
    suite: SUITE,
    name: 'same trace, the bare MemoryStore.getFresh (no Cache checks around it)',
    ours: r.store as number,
    peer: r.lru,
    peerName: 'lru-cache',
    unit: 'ops/s',
    higherIsBetter: true,
  })
  const c = await compareOps({
    ours: (n) => {
      for (let i = 0; i < n; i++) sink = ours.getSync(keys[i % N] as string)
    },
    lru: (n) => {
      for (let i = 0; i < n; i++) sink = lru.get(keys[i % N] as string)
    },
  })
  report({
    suite: SUITE,
    name: 'L1 sync hit, cyclic over all 20k keys (worst case for segmented LRU)',
    ours: c.ours as number,
    peer: c.lru,
    peerName: 'lru-cache',
    unit: 'ops/s',
    higherIsBetter: true,
  })
  await ours.close()
}

async function asyncHits(): Promise<void> {
  const N = 1000
  const keys = Array.from({ length: N }, (_, i) => `user:${i}`)
  const ours = createCache({ ttl: '1m', memory: { maxEntries: 10_000 } })
  const bento = new BentoCache({
    default: 'm',
    stores: { m: bentostore().useL1Layer(memoryDriver({ maxSize: '100mb' })) },
  })
  const manager = createCacheManager({ ttl: 60_000 })
  for (const k of keys) {
    await ours.set(k, { k })
    await bento.set({ key: k, value: { k }, ttl: '1m' })
    await manager.set(k, { k })
  }
  const load = () => ({ k: 'x' })
  const r = await compareOps(
    {
      ours: async (n) => {
        for (let i = 0; i < n; i++) sink = await ours.get(keys[i % N] as string)
      },
      bento: async (n) => {
        for (let i = 0; i < n; i++) sink = await bento.get({ key: keys[i % N] as string })
      },
      manager: async (n) => {
        for (let i = 0; i < n; i++) sink = await manager.get(keys[i % N] as string)
      },
    },
    { rounds: 5, roundMs: 150 },
  )
  report({
    suite: SUITE,
    name: 'await get, L1 hit',
    ours: r.ours as number,
    peer: r.bento,
    peerName: 'BentoCache',
    unit: 'ops/s',
    higherIsBetter: true,
    target: '>= 10x',
  })
  report({
    suite: SUITE,
    name: 'await get, L1 hit',
    ours: r.ours as number,
    peer: r.manager,
    peerName: 'cache-manager 7',
    unit: 'ops/s',
    higherIsBetter: true,
  })
  const g = await compareOps(
    {
      ours: async (n) => {
        for (let i = 0; i < n; i++) sink = await ours.getOrSet(keys[i % N] as string, load)
      },
      bento: async (n) => {
        for (let i = 0; i < n; i++)
          sink = await bento.getOrSet({ key: keys[i % N] as string, factory: load, ttl: '1m' })
      },
      manager: async (n) => {
        for (let i = 0; i < n; i++) sink = await manager.wrap(keys[i % N] as string, async () => load())
      },
    },
    { rounds: 5, roundMs: 150 },
  )
  report({
    suite: SUITE,
    name: 'await getOrSet, L1 hit',
    ours: g.ours as number,
    peer: g.bento,
    peerName: 'BentoCache',
    unit: 'ops/s',
    higherIsBetter: true,
    target: '>= 10x',
  })
  report({
    suite: SUITE,
    name: 'await getOrSet, L1 hit',
    ours: g.ours as number,
    peer: g.manager,
    peerName: 'cache-manager 7 wrap',
    unit: 'ops/s',
    higherIsBetter: true,
  })
  await ours.close()
  await bento.disconnectAll()
}

/**
 * What tracing costs on the L1 hit path. Off (nobody subscribed), a hit pays one
 * `hasSubscribers` check: measured alone here and set against the hit's own time. On, a
 * subscriber (no-op handlers) is set against the same hits without one.
 */
async function tracingCost(): Promise<void> {
  const N = 1000
  const keys = Array.from({ length: N }, (_, i) => `user:${i}`)
  const ours = createCache({ ttl: '1m', memory: { maxEntries: 10_000 } })
  for (const k of keys) await ours.set(k, { k })
  const load = () => ({ k: 'x' })
  const channel = cacheTracing.getOrSet
  let checks = 0
  const off = await compareOps(
    {
      hit: async (n) => {
        for (let i = 0; i < n; i++) sink = await ours.getOrSet(keys[i % N] as string, load)
      },
      check: (n) => {
        for (let i = 0; i < n; i++) if (channel.hasSubscribers) checks++
      },
    },
    { rounds: 7, roundMs: 150 },
  )
  // subscribed once, as a tracer does at start-up (subscribing flips the channel's prototype,
  // so subscribing and unsubscribing between rounds would measure the flip, not the path)
  const noop = () => {}
  const handlers = { start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop }
  channel.subscribe(handlers)
  const on = await compareOps(
    {
      hit: async (n) => {
        for (let i = 0; i < n; i++) sink = await ours.getOrSet(keys[i % N] as string, load)
      },
    },
    { rounds: 7, roundMs: 150 },
  )
  channel.unsubscribe(handlers)
  const hitNs = 1e9 / (off.hit as number)
  const checkNs = 1e9 / (off.check as number)
  report({
    suite: SUITE,
    name: 'tracing off: the hasSubscribers check per getOrSet L1 hit',
    ours: checkNs,
    peer: undefined,
    peerName: undefined,
    unit: 'ns',
    higherIsBetter: false,
    target: '<= 3% of a hit',
    note: `${((checkNs / hitNs) * 100).toFixed(2)}% of the hit's ${hitNs.toFixed(0)} ns${checks > 0 ? ' (subscribed!)' : ''}`,
  })
  report({
    suite: SUITE,
    name: 'tracing on: await getOrSet, L1 hit, one subscriber (no-op handlers)',
    ours: on.hit as number,
    peer: off.hit,
    peerName: 'no subscriber',
    unit: 'ops/s',
    higherIsBetter: true,
    note: 'what tracing costs when a tracer listens',
  })
  await ours.close()
}

/** The hit-ratio table: five traces, ours (W-TinyLFU) and lru-cache beside Belady's optimum. */
function hitRatios(): void {
  for (const t of traces()) {
    const ours = oursHitRatio(t)
    const lru = lruHitRatio(t)
    const ideal = beladyHitRatio(t)
    const d = (ours - lru) * 100
    report({
      suite: SUITE,
      name: `hit ratio, ${t.name} (Belady ${(ideal * 100).toFixed(1)}%)`,
      ours: ours * 100,
      peer: lru * 100,
      peerName: 'lru-cache',
      unit: '%',
      higherIsBetter: true,
      target:
        t.name.startsWith('shifting') || t.name.startsWith('loop') ? '>= LRU - 1 point' : '>= LRU + 5 points',
      note: `${d >= 0 ? '+' : ''}${d.toFixed(1)} points`,
    })
  }
}

async function memory(): Promise<void> {
  const N = 100_000
  const keys = Array.from({ length: N }, (_, i) => `key:${i.toString().padStart(6, '0')}`)
  const values = Array.from({ length: N }, (_, i) => i * 2 + 0.5)
  const used = () => {
    const m = process.memoryUsage()
    return m.heapUsed + m.arrayBuffers
  }
  gc()
  let before = used()
  const lru = new LRUCache<string, number>({ max: N, ttl: 60_000 })
  for (let i = 0; i < N; i++) lru.set(keys[i] as string, values[i] as number)
  gc()
  const lruPer = (used() - before) / N
  sink = lru
  gc()
  before = used()
  const ours = createCache({ ttl: '1m', memory: { maxEntries: N, maxBytes: 1e9 } })
  for (let i = 0; i < N; i++) await ours.set(keys[i] as string, values[i] as number)
  gc()
  const oursPer = (used() - before) / N
  report({
    suite: SUITE,
    name: 'heap per entry beyond key and value (100k entries, TTL on)',
    ours: oursPer,
    peer: lruPer,
    peerName: 'lru-cache',
    unit: 'B',
    higherIsBetter: false,
    target: '<= 1.25x lru-cache',
    note: `ratio ours/lru ${(oursPer / lruPer).toFixed(2)}`,
  })
  await ours.close()
  sink = undefined
  // maxBytes under a flood of unique keys: tracked bytes and real heap growth
  const maxBytes = 8 * 1024 * 1024
  const flood = createCache({ ttl: '1m', memory: { maxEntries: 1_000_000, maxBytes } })
  gc()
  const h0 = used()
  let peak = 0
  for (let i = 0; i < 300_000; i++) {
    await flood.set(`flood:${i}:${Math.random().toString(36).slice(2)}`, `value-${i}-${'x'.repeat(100)}`)
    const b = flood.stats().l1.bytes
    if (b > peak) peak = b
  }
  gc()
  const grown = used() - h0
  report({
    suite: SUITE,
    name: 'maxBytes 8 MiB under 300k unique keys: peak tracked bytes / maxBytes',
    ours: peak / maxBytes,
    peer: undefined,
    peerName: undefined,
    unit: 'x',
    higherIsBetter: false,
    target: '<= 1.05',
    note: `real heap growth after the flood ${(grown / 2 ** 20).toFixed(1)} MiB`,
  })
  await flood.close()
}

/**
 * What `maxBytes` counts against what the heap really holds: a cache is filled to 8 MiB of
 * tracked bytes with one shape of value, and the retained heap growth (after a full GC, beyond
 * the store's fixed arrays, which exist from creation) is compared with the tracked bytes.
 * Keys and values are flat strings, as they arrive from JSON or the network.
 */
async function trackedVsHeap(): Promise<void> {
  const used = () => {
    const m = process.memoryUsage()
    return m.heapUsed + m.arrayBuffers
  }
  const flat = (s: string) => JSON.parse(JSON.stringify(s)) as string
  const shapes: Record<string, (i: number) => unknown> = {
    'ASCII string, 100 chars': (i) => flat(`value-${i}-${'x'.repeat(100)}`.slice(0, 100)),
    'UTF-16 string, 100 chars': (i) => flat(`vé€-${i}-${'y'.repeat(100)}`.slice(0, 100)),
    'JSON.parse object, 5 fields': (i) =>
      JSON.parse(
        `{"id":${i},"name":"user ${i}","email":"u${i}@example.com","roles":["admin","ops"],"score":${i + 0.5}}`,
      ),
    'Buffer, 1 KiB': (i) => Buffer.alloc(1024, i & 255),
  }
  const maxBytes = 8 * 1024 * 1024
  for (const [name, make] of Object.entries(shapes)) {
    gc()
    const cache = createCache({ ttl: '1m', memory: { maxEntries: 200_000, maxBytes } })
    gc()
    const before = used()
    let i = 0
    while (cache.stats().l1.bytes < maxBytes - 4096) {
      await cache.set(flat(`key:${i.toString().padStart(8, '0')}`), make(i))
      i++
    }
    gc()
    const grown = used() - before
    const tracked = cache.stats().l1.bytes
    report({
      suite: SUITE,
      name: `maxBytes 8 MiB of ${name}: real retained heap / tracked bytes (${cache.stats().l1.entries} entries)`,
      ours: grown / tracked,
      peer: undefined,
      peerName: undefined,
      unit: 'x',
      higherIsBetter: false,
      target: '0.8-1.2',
      note: `${(grown / 2 ** 20).toFixed(2)} MiB real for ${(tracked / 2 ** 20).toFixed(2)} MiB tracked`,
    })
    await cache.close()
  }
}

async function l2Reads(): Promise<void> {
  const prefix = uniquePrefix('bench-l2')
  const ours = createCache({ memory: false, redis: REDIS_URL, prefix, ttl: '10m' })
  const N = 1000
  const value = {
    id: 1,
    name: 'A user name',
    email: 'someone@example.com',
    roles: ['a', 'b'],
    bio: 'x'.repeat(110),
  }
  for (let i = 0; i < N; i++) await ours.set(`u:${i}`, value)
  const count = 200_000
  gc()
  await concurrentOps((i) => ours.get(`u:${i % N}`), { count: 20_000, concurrency: 100 })
  const opsPerSec = await concurrentOps((i) => ours.get(`u:${i % N}`), { count, concurrency: 100 })
  let rb = Number.NaN
  try {
    const u = new URL(REDIS_URL)
    const out = execFileSync(
      'redis-benchmark',
      ['-h', u.hostname, '-p', u.port || '6379', '-t', 'get', '-n', '200000', '-q'],
      { encoding: 'utf8' },
    )
    const m = /([\d.]+) requests per second/.exec(out)
    if (m) rb = Number(m[1])
  } catch {
    // redis-benchmark missing: the row says NaN
  }
  report({
    suite: SUITE,
    name: 'L2 reads (L1 off, ~200 B values, 100 concurrent callers)',
    ours: opsPerSec,
    peer: rb,
    peerName: 'redis-benchmark -t get -n 200000',
    unit: 'ops/s',
    higherIsBetter: true,
    target: '>= 120k ops/s',
  })
  await ours.close()
  await cleanupPrefix(prefix)
}

async function stampede(): Promise<void> {
  const prefix = uniquePrefix('bench-stampede')
  const instances = Array.from({ length: 10 }, () =>
    createCache({ redis: REDIS_URL, prefix, lock: true, ttl: '1m' }),
  )
  let calls = 0
  const loader = async () => {
    calls++
    await new Promise((r) => setTimeout(r, 50))
    return { value: 42 }
  }
  await Promise.all(instances.flatMap((c) => Array.from({ length: 100 }, () => c.getOrSet('hot', loader))))
  const ourCalls = calls
  for (const c of instances) await c.close()
  const bentoPrefix = uniquePrefix('bench-stampede-bento')
  const clients: Redis[] = []
  const bentos = Array.from({ length: 10 }, () => {
    const connection = new Redis(REDIS_URL)
    const busConnection = new Redis(REDIS_URL)
    clients.push(connection, busConnection)
    return new BentoCache({
      default: 'r',
      prefix: bentoPrefix,
      stores: {
        r: bentostore()
          .useL1Layer(memoryDriver({ maxSize: '10mb' }))
          .useL2Layer(redisDriver({ connection }))
          .useBus(redisBusDriver({ connection: busConnection })),
      },
    })
  })
  calls = 0
  await Promise.all(
    bentos.flatMap((b) =>
      Array.from({ length: 100 }, () => b.getOrSet({ key: 'hot', factory: loader, ttl: '1m' })),
    ),
  )
  const bentoCalls = calls
  for (const b of bentos) await b.disconnectAll()
  for (const c of clients) c.disconnect()
  report({
    suite: SUITE,
    name: 'stampede: 10 instances x 100 concurrent getOrSet on one key -> loader calls',
    ours: ourCalls,
    peer: bentoCalls,
    peerName: 'BentoCache',
    unit: 'calls',
    higherIsBetter: false,
    target: 'exactly 1',
  })
  await cleanupPrefix(prefix)
  await cleanupPrefix(bentoPrefix)
}

async function outage(): Promise<void> {
  const priv = await PrivateRedis.start()
  const timeout = 100
  // L1 off: every call goes to L2, so the outage is felt by every call, not hidden behind L1 hits
  const cache = createCache({ memory: false, redis: { connection: priv.url, timeout }, ttl: '1m' })
  let errors = 0
  let phase: 'before' | 'outage' | 'after' = 'before'
  const latencies: number[] = []
  let stop = false
  let closedAfterMs = Number.NaN
  let firstL2HitMs = Number.NaN
  let resumedAt = 0
  const offB = cache.on('breaker', (e) => {
    if (phase === 'after' && e.state === 'closed' && Number.isNaN(closedAfterMs))
      closedAfterMs = performance.now() - resumedAt
  })
  const offH = cache.on('hit', (e) => {
    if (phase === 'after' && e.tier === 'l2' && Number.isNaN(firstL2HitMs))
      firstL2HitMs = performance.now() - resumedAt
  })
  const worker = async (w: number) => {
    let i = 0
    while (!stop) {
      const t0 = performance.now()
      try {
        await cache.getOrSet(`k${w}:${i++ % 20}`, async () => ({ at: Date.now() }))
      } catch {
        errors++
      }
      if (phase === 'outage') latencies.push(performance.now() - t0)
      await new Promise((r) => setTimeout(r, 1))
    }
  }
  const loops = Array.from({ length: 20 }, (_, w) => worker(w))
  await new Promise((r) => setTimeout(r, 500))
  phase = 'outage'
  priv.pause()
  await new Promise((r) => setTimeout(r, 2000))
  priv.resume()
  phase = 'after'
  resumedAt = performance.now()
  const until = Date.now() + 3000
  while ((Number.isNaN(firstL2HitMs) || Number.isNaN(closedAfterMs)) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20))
  }
  stop = true
  await Promise.all(loops)
  offB()
  offH()
  latencies.sort((a, b) => a - b)
  const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN
  const max = latencies[latencies.length - 1] ?? Number.NaN
  report({
    suite: SUITE,
    name: `Redis paused 2s, 20 callers, L1 off: p99 latency during the outage (${latencies.length} calls, ${errors} errors, max ${max.toFixed(0)} ms)`,
    ours: p99,
    peer: undefined,
    peerName: undefined,
    unit: 'ms',
    higherIsBetter: false,
    target: `<= ${2 * timeout} ms (2x L2 timeout), 0 errors`,
  })
  report({
    suite: SUITE,
    name: 'Redis back: breaker closed / first L2 hit after resume',
    ours: closedAfterMs,
    peer: undefined,
    peerName: undefined,
    unit: 'ms',
    higherIsBetter: false,
    target: '<= 1000 ms',
    note: `first L2 hit after ${firstL2HitMs.toFixed(0)} ms`,
  })
  await cache.close()
  await priv.stop()
}

export default {
  name: SUITE,
  async run(): Promise<void> {
    await l1SyncHit()
    await asyncHits()
    await tracingCost()
    hitRatios()
    await memory()
    await trackedVsHeap()
    await l2Reads()
    await stampede()
    await outage()
  },
}
