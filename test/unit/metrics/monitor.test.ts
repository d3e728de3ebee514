import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createCache } from '../../../src/cache/index.js'
import {
  breakerFlappingRule,
  cacheCapacityRule,
  createMonitor,
  envOptions,
  eventLoopRule,
  heapGrowthRule,
  poolSaturationRule,
  type RecommendationContext,
  staleServesRule,
} from '../../../src/metrics/index.js'
import { circuitBreaker, consecutive } from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

const quiet = () => createMonitor({ enabled: false, runtime: false, onWarning: () => {}, env: {} })

describe('monitor', () => {
  it('measure() records sync and async calls, errors included, into Prometheus and the JSON view', async () => {
    const m = quiet()
    assert.equal(
      m.measure('sync', () => 42),
      42,
    )
    assert.equal(await m.measure('async', async () => 'x'), 'x')
    assert.throws(
      () =>
        m.measure('sync', () => {
          throw new Error('boom')
        }),
      /boom/,
    )
    await assert.rejects(
      m.measure('async', () => Promise.reject(new Error('later'))),
      /later/,
    )
    const end = m.timer('manual')
    end()
    const ops = m.snapshot().operations
    assert.equal(ops.sync?.count, 2)
    assert.equal(ops.sync?.errors, 1)
    assert.equal(ops.async?.errorRate, 0.5)
    assert.equal(ops.manual?.count, 1)
    const text = await m.metrics()
    assert.match(text, /hotpath_operation_duration_seconds_count\{operation="sync"\} 2/)
    assert.match(text, /hotpath_operation_errors_total\{operation="async"\} 1/)
  })

  it('caps label cardinality: 100,000 distinct values are folded, with one warning', async () => {
    const warnings: string[] = []
    const m = createMonitor({
      enabled: false,
      runtime: false,
      maxSeriesPerMetric: 100,
      onWarning: (w) => warnings.push(w),
      env: {},
    })
    const c = m.counter('hotpath_requests_total', 'requests', ['user'])
    for (let i = 0; i < 100_000; i++) c.inc({ user: `u${i}` })
    for (let i = 0; i < 1000; i++) m.measure(`op-${i}`, () => 1)
    const text = await m.metrics()
    const series = text.split('\n').filter((l) => l.startsWith('hotpath_requests_total{')).length
    assert.equal(series, 101, '100 label sets plus the overflow series')
    assert.match(text, /hotpath_requests_total\{user="__overflow__"\} 99900/)
    assert.equal(warnings.filter((w) => w.includes('hotpath_requests_total')).length, 1)
    assert.ok(Object.keys(m.snapshot().operations).length <= 501)
    assert.equal(m.snapshot().cardinality.droppedSeries.hotpath_requests_total, 99_900)
  })

  it('attached caches and policies become metrics and components', async () => {
    const m = quiet()
    const cache = createCache({ monitor: m, name: 'products' })
    const cb = circuitBreaker({ monitor: m, name: 'payments', breaker: consecutive(1) })
    await cache.getOrSet('a', () => 1)
    await cache.get('a')
    await assert.rejects(cb.execute(() => Promise.reject(new Error('x'))))
    m.collect()
    const text = await m.metrics()
    assert.match(text, /hotpath_cache_requests_total\{cache="products",tier="l1",result="hit"\} 1/)
    assert.match(text, /hotpath_circuit_state\{name="payments"\} 1/)
    assert.match(
      text,
      /hotpath_component_events_total\{kind="circuit-breaker",name="payments",event="stateChange"\} 1/,
    )
    assert.deepEqual(
      m.snapshot().components.map((c) => `${c.kind}:${c.name}`),
      ['cache:products', 'circuit-breaker:payments'],
    )
    await cache.close()
  })

  it('collects on its interval and evaluates alerts against snapshot paths', async () => {
    const clock = new FakeClock()
    const fired: string[] = []
    const m = createMonitor({
      clock,
      runtime: false,
      collectInterval: '1s',
      env: {},
      alerts: [
        {
          name: 'slow-db',
          value: 'operations.db.p99Ms',
          op: '>',
          threshold: -1,
          cooldown: 0,
          onFire: (e) => void fired.push(e.name),
        },
      ],
    })
    m.measure('db', () => 1)
    clock.advance(1000)
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(fired, ['slow-db'])
    assert.equal(m.alerts()[0]?.state, 'firing')
    m.close()
  })

  it('reads PERFORMANCE_MONITORING_ENABLED and METRICS_COLLECTION_INTERVAL; options win', () => {
    assert.deepEqual(
      envOptions({ PERFORMANCE_MONITORING_ENABLED: 'false', METRICS_COLLECTION_INTERVAL: '30' }),
      {
        enabled: false,
        collectInterval: 30_000,
      },
    )
    assert.deepEqual(envOptions({ METRICS_COLLECTION_INTERVAL: '5s' }), { collectInterval: '5s' })
    assert.throws(
      () => envOptions({ PERFORMANCE_MONITORING_ENABLED: 'maybe' }),
      /PERFORMANCE_MONITORING_ENABLED/,
    )
    assert.throws(() => envOptions({ METRICS_COLLECTION_INTERVAL: 'often' }), /METRICS_COLLECTION_INTERVAL/)
    const m = createMonitor({
      enabled: false,
      runtime: false,
      env: { PERFORMANCE_MONITORING_ENABLED: 'true' },
    })
    assert.equal(m.enabled, false)
  })

  it('rejects bad options naming them', () => {
    assert.throws(() => createMonitor({ prefix: 'bad-prefix', env: {} }), /prefix/)
    assert.throws(() => createMonitor({ maxSeriesPerMetric: 0, env: {} }), /maxSeriesPerMetric/)
    assert.throws(() => createMonitor({ latencyBuckets: [1, 0.5], env: {} }), /latencyBuckets/)
    assert.throws(() => createMonitor({ collectInterval: 'x' as never, env: {} }), /collectInterval/)
    assert.throws(
      () =>
        createMonitor({
          enabled: false,
          alerts: [{ name: 'a', value: 'x', op: '>', threshold: 'high' as never }],
          env: {},
        }),
      /threshold/,
    )
  })
})

function ctx(
  parts: Partial<RecommendationContext['snapshot']> & {
    heap?: Array<{ at: number; bytes: number }>
    previous?: Map<string, Record<string, unknown>>
  },
): RecommendationContext {
  return {
    snapshot: {
      runtime: parts.runtime ?? {
        eventLoop: { delayP99Ms: 5, utilization: 0.2 },
        memory: { heapUsedBytes: 1e7, heapTotalBytes: 2e7 },
        gc: { pauses: 0, pauseMsTotal: 0, majorPauseMsTotal: 0 },
        cpu: { processPercent: 10 },
      },
      components: parts.components ?? [],
    },
    heapHistory: parts.heap ?? [],
    previous: parts.previous ?? new Map(),
  }
}

const cache = (l1: Record<string, number>, extra: Record<string, unknown> = {}) => ({
  kind: 'cache',
  name: 'c',
  stats: { l1, ...extra },
})

describe('recommendation rules (each with a case that triggers and one that must not)', () => {
  it('cache capacity', () => {
    const full = cacheCapacityRule(
      ctx({ components: [cache({ hits: 400, misses: 600, entries: 1000, maxEntries: 1000 })] }),
    )
    assert.match(JSON.stringify(full), /raise memory.maxEntries to 2000/)
    const roomy = cacheCapacityRule(
      ctx({ components: [cache({ hits: 400, misses: 600, entries: 500, maxEntries: 1000 })] }),
    )
    assert.deepEqual(roomy, [])
  })

  it('stale serves', () => {
    const slow = staleServesRule(
      ctx({ components: [cache({}, { staleServes: 100, loader: { calls: 100, errors: 60 } })] }),
    )
    assert.equal((slow as unknown[]).length, 1)
    assert.deepEqual(
      staleServesRule(ctx({ components: [cache({}, { staleServes: 10, loader: { calls: 1000 } })] })),
      [],
    )
  })

  it('breaker flapping', () => {
    const comp = { kind: 'circuit-breaker', name: 'p', stats: { opens: 5, state: 'open' } }
    const flapping = breakerFlappingRule(
      ctx({ components: [comp], previous: new Map([['circuit-breaker:p', { opens: 1 }]]) }),
    )
    assert.equal((flapping as unknown[]).length, 1)
    const calm = breakerFlappingRule(
      ctx({ components: [comp], previous: new Map([['circuit-breaker:p', { opens: 4 }]]) }),
    )
    assert.deepEqual(calm, [])
  })

  it('event-loop delay names a cause', () => {
    const runtime = {
      eventLoop: { delayP99Ms: 300, utilization: 0.5 },
      memory: { heapUsedBytes: 1, heapTotalBytes: 2 },
      gc: { pauses: 10, pauseMsTotal: 900, majorPauseMsTotal: 800 },
      cpu: { processPercent: 50 },
    }
    const rec = eventLoopRule(ctx({ runtime }))
    assert.ok(rec !== undefined && !Array.isArray(rec))
    assert.match(rec.message, /major GC/)
    assert.equal(eventLoopRule(ctx({})), undefined)
  })

  it('heap growth', () => {
    const rising = Array.from({ length: 20 }, (_, i) => ({ at: i * 60_000, bytes: 100e6 + i * 5e6 }))
    assert.ok(heapGrowthRule(ctx({ heap: rising })))
    const flat = Array.from({ length: 20 }, (_, i) => ({ at: i * 60_000, bytes: 100e6 + (i % 2) * 5e6 }))
    assert.equal(heapGrowthRule(ctx({ heap: flat })), undefined)
  })

  it('pool saturation', () => {
    const busy = { kind: 'pool', name: 'db', stats: { waiting: 3, inUse: 10, max: 10, timeouts: 0 } }
    assert.equal((poolSaturationRule(ctx({ components: [busy] })) as unknown[]).length, 1)
    const fine = { kind: 'pool', name: 'db', stats: { waiting: 0, inUse: 4, max: 10 } }
    assert.deepEqual(poolSaturationRule(ctx({ components: [fine] })), [])
  })

  it('user rules run beside the built-ins; a throwing rule is skipped with a warning', () => {
    const warnings: string[] = []
    const m = createMonitor({
      enabled: false,
      runtime: false,
      env: {},
      onWarning: (w) => warnings.push(w),
      recommendations: {
        builtIn: false,
        rules: [
          () => ({ id: 'mine', severity: 'info', message: 'hello', evidence: {} }),
          () => {
            throw new Error('bad rule')
          },
        ],
      },
    })
    assert.deepEqual(
      m.recommendations().map((r) => r.id),
      ['mine'],
    )
    assert.match(warnings[0] ?? '', /bad rule/)
  })
})

describe('recommendations without runtime metrics', () => {
  it('regression: with runtime: false the event-loop rule threw on every evaluation; now it gives nothing', () => {
    const warnings: unknown[] = []
    const m = createMonitor({ env: {}, runtime: false, onWarning: (w: unknown) => warnings.push(w) })
    try {
      assert.equal(
        m.recommendations().some((r) => r.id === 'event-loop-delay'),
        false,
      )
      assert.deepEqual(warnings, [])
    } finally {
      m.close()
    }
  })
})
