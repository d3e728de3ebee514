import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { aggregate } from '../../../src/dashboard/aggregate.js'
import { createDashboard, type Dashboard, metricPanel } from '../../../src/dashboard/index.js'
import { createEventLoopSampler, createMonitor, type Monitor } from '../../../src/metrics/index.js'
import { createRateLimiter } from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

function setup(extra: Partial<Parameters<typeof createDashboard>[0]> = {}) {
  const clock = new FakeClock()
  const monitor = createMonitor({
    enabled: false,
    runtime: false,
    clock,
    env: {},
    eventLoop: createEventLoopSampler({ clock }),
    // the built-in rules need runtime figures, which these monitors do not collect
    recommendations: {
      builtIn: false,
      rules: [() => ({ id: 'r', severity: 'info', message: 'm', evidence: { x: 1 } })],
    },
    alerts: [
      {
        name: 'too-many',
        value: (s) => (s as { operations: Record<string, { count: number }> }).operations.work?.count ?? 0,
        op: '>',
        threshold: 2,
        cooldown: 0,
      },
    ],
  })
  const http = monitor.histogram(`${monitor.prefix}http_request_duration_seconds`, 'h', [
    'route',
    'method',
    'status_class',
  ])
  const cache = monitor.counter(`${monitor.prefix}cache_requests_total`, 'c', ['cache', 'tier', 'result'])
  const shed = monitor.counter(`${monitor.prefix}http_requests_shed_total`, 's', ['route'])
  // a long interval: ticks in these tests are driven by hand, never by the timer
  const d = createDashboard({ monitor, clock, interval: '10s', window: '30s', instance: 'a', ...extra })
  return { clock, monitor, http, cache, shed, d }
}

async function tick(d: Dashboard, clock: FakeClock) {
  clock.advance(1000)
  const t = await d.tick()
  assert.ok(t !== undefined)
  return t.frames[0] as NonNullable<(typeof t.frames)[0]>
}

describe('frames', () => {
  it('turns the request histogram into per-tick counts, status classes and percentiles per route', async () => {
    const { clock, http, d } = setup()
    for (let i = 0; i < 90; i++) http.observe({ route: '/a', method: 'GET', status_class: '2xx' }, 0.0005)
    for (let i = 0; i < 10; i++) http.observe({ route: '/a', method: 'GET', status_class: '5xx' }, 0.05)
    http.observe({ route: '/b', method: 'POST', status_class: '4xx' }, 0.002)
    const f = await tick(d, clock)
    assert.equal(f.instance, 'a')
    assert.equal(f.dt, 1)
    assert.equal(f.http.n, 101)
    assert.equal(f.http.total, 101)
    assert.deepEqual(f.http.status, { '2xx': 90, '5xx': 10, '4xx': 1 })
    assert.deepEqual(Object.keys(f.http.routes), ['GET /a', 'POST /b'])
    const a = f.http.routes['GET /a']
    assert.equal(a?.n, 100)
    assert.ok((a?.p50 ?? 0) <= 1, 'p50 in the first bucket')
    assert.ok((a?.p99 ?? 0) > 25 && (a?.p99 ?? 0) <= 50, `p99 in the 25-50 ms bucket: ${a?.p99}`)
    const g = await tick(d, clock)
    assert.equal(g.http.n, 0, 'counts are deltas: nothing new, nothing counted')
    assert.equal(g.http.total, 101, 'the total stays cumulative')
    assert.deepEqual(g.http.routes, {})
    await d.close()
  })

  it('keeps only the busiest maxRoutes routes of a tick', async () => {
    const { clock, http, d } = setup({ maxRoutes: 2 })
    for (const [route, n] of [
      ['/x', 1],
      ['/y', 5],
      ['/z', 3],
    ] as const)
      for (let i = 0; i < n; i++) http.observe({ route, method: 'GET', status_class: '2xx' }, 0.001)
    const f = await tick(d, clock)
    assert.deepEqual(Object.keys(f.http.routes), ['GET /y', 'GET /z'])
    assert.equal(f.http.n, 9, 'the all-routes figures still count every route')
    await d.close()
  })

  it('counts cache lookups per cache and tier, shedding and rate-limit refusals per tick', async () => {
    const { clock, monitor, cache, shed, d } = setup()
    for (let i = 0; i < 3; i++) cache.inc({ cache: 'http', tier: 'l1', result: 'hit' })
    cache.inc({ cache: 'http', tier: 'l1', result: 'miss' })
    cache.inc({ cache: 'users', tier: 'l2', result: 'hit' })
    shed.inc({ route: '/a' }, 4)
    const limiter = createRateLimiter({ limit: 1, window: '1m', clock, monitor, name: 'api' })
    for (let i = 0; i < 3; i++) limiter.consumeSync('k')
    const f = await tick(d, clock)
    assert.deepEqual(f.cache, { 'http/l1': { hits: 3, misses: 1 }, 'users/l2': { hits: 1, misses: 0 } })
    assert.equal(f.shed, 4)
    assert.equal(f.rateLimited, 2)
    limiter.consumeSync('k')
    const g = await tick(d, clock)
    assert.deepEqual(g.cache, {})
    assert.equal(g.shed, 0)
    assert.equal(g.rateLimited, 1)
    await d.close()
  })

  it('samples panels (added later too), skips one that throws, and metricPanel reads the registry', async () => {
    const { clock, monitor, d } = setup({
      panels: [
        {
          id: 'bad',
          title: 'Bad',
          sample: () => {
            throw new Error('boom')
          },
        },
        metricPanel({ id: 'q', title: 'Queue', metric: 'bus_depth', by: 'class' }),
      ],
    })
    const depth = monitor.gauge('bus_depth', 'queue depth', ['class'])
    depth.set({ class: 'urgent' }, 3)
    depth.set({ class: 'low' }, 7)
    const sent = monitor.counter('ws_sent_total', 'sent', [])
    let value = 1
    const off = d.addPanel({ id: 'ws', title: 'WS', unit: '/s', sample: () => ({ saved: value }) })
    d.addPanel(metricPanel({ id: 'rate', title: 'Sent', metric: 'ws_sent_total', mode: 'rate' }))
    assert.throws(
      () => d.addPanel({ id: 'ws', title: 'again', sample: () => ({}) }),
      /already on the dashboard/,
    )
    assert.deepEqual(
      d.hello().panels.map((p) => p.id),
      ['bad', 'q', 'ws', 'rate'],
    )
    let f = await tick(d, clock)
    assert.deepEqual(f.panels, { q: { urgent: 3, low: 7 }, ws: { saved: 1 }, rate: {} })
    sent.inc(undefined, 20)
    value = 2
    f = await tick(d, clock)
    assert.deepEqual(f.panels.rate, { ws_sent_total: 20 })
    assert.equal(f.panels.ws?.saved, 2)
    off()
    f = await tick(d, clock)
    assert.equal(f.panels.ws, undefined)
    await d.close()
  })

  it('ingests outside figures into the next frame only, and refuses bad input without storing it', async () => {
    const { clock, d } = setup()
    d.ingest('loadtest', { rps: 1000, p99: 12.5 })
    assert.throws(() => d.ingest('bad source!', { a: 1 }), /source must be/)
    assert.throws(() => d.ingest('lt', { a: Number.NaN }), /figure "a" must be a finite number/)
    assert.throws(() => d.ingest('lt', [] as never), /figures must be an object/)
    let f = await tick(d, clock)
    assert.deepEqual(f.ext, { loadtest: { rps: 1000, p99: 12.5 } })
    f = await tick(d, clock)
    assert.deepEqual(f.ext, {})
    await d.close()
  })
})

describe('history, alerts and recommendations', () => {
  it('keeps window / interval ticks, replays after a seq, and reports alert transitions once', async () => {
    const { clock, monitor, d } = setup()
    for (let i = 0; i < 5; i++) await tick(d, clock)
    const s = d.state()
    assert.deepEqual(
      s.ticks.map((t) => t.seq),
      [3, 4, 5],
      'the ring holds 30s / 10s = 3 ticks',
    )
    assert.deepEqual(
      d.state(4).ticks.map((t) => t.seq),
      [5],
    )
    for (let i = 0; i < 3; i++) monitor.measure('work', () => 1)
    monitor.evaluateAlerts()
    await tick(d, clock)
    await tick(d, clock)
    assert.deepEqual(
      d.state().alerts.map((a) => [a.name, a.state, a.instance]),
      [['too-many', 'firing', 'a']],
    )
    assert.equal(d.state().recommendations[0]?.instance, 'a', 'recommendations computed at the first tick')
    await d.close()
    assert.equal(await d.tick(), undefined, 'a closed dashboard does not tick')
  })
})

describe('aggregate', () => {
  it('sums counts and totals, recomputes percentiles from the summed buckets, sums levels of the latest frames', async () => {
    const one = setup()
    const two = setup({ instance: 'b' })
    for (let i = 0; i < 10; i++) one.http.observe({ route: '/a', method: 'GET', status_class: '2xx' }, 0.0005)
    for (let i = 0; i < 30; i++) two.http.observe({ route: '/a', method: 'GET', status_class: '5xx' }, 0.2)
    one.cache.inc({ cache: 'http', tier: 'l1', result: 'hit' }, 5)
    two.cache.inc({ cache: 'http', tier: 'l1', result: 'miss' }, 5)
    const fa = await tick(one.d, one.clock)
    const fb = await tick(two.d, two.clock)
    const agg = aggregate([fa, fb], [fa, fb], one.d.hello().bounds, fa.t, 1, 1)
    assert.equal(agg.instance, '*')
    assert.equal(agg.http.n, 40)
    assert.equal(agg.http.total, fa.http.total + fb.http.total)
    assert.deepEqual(agg.http.status, { '2xx': 10, '5xx': 30 })
    assert.equal(agg.http.routes['GET /a']?.n, 40)
    assert.ok(
      agg.http.p50 > 100,
      `p50 of the merged buckets sits in the 5xx instance's bucket: ${agg.http.p50}`,
    )
    assert.deepEqual(agg.cache, { 'http/l1': { hits: 5, misses: 5 } })
    assert.equal(agg.mem.rss, fa.mem.rss + fb.mem.rss)
    await one.d.close()
    await two.d.close()
  })
})

describe('monitor handed in', () => {
  it('refuses a dashboard without a monitor', () => {
    assert.throws(() => createDashboard({ monitor: {} as Monitor }), /needs monitor/)
  })
})

describe('a dashboard started late', () => {
  it('takes what was counted before it started as a baseline, not as a burst in its first frame', async () => {
    const clock = new FakeClock()
    const monitor = createMonitor({
      enabled: false,
      runtime: false,
      clock,
      env: {},
      eventLoop: createEventLoopSampler({ clock }),
      recommendations: { builtIn: false },
    })
    const http = monitor.histogram(`${monitor.prefix}http_request_duration_seconds`, 'h', [
      'route',
      'method',
      'status_class',
    ])
    for (let i = 0; i < 500; i++) http.observe({ route: '/old', method: 'GET', status_class: '2xx' }, 0.001)
    const d = createDashboard({ monitor, clock, interval: '10s', window: '30s', instance: 'late' })
    http.observe({ route: '/old', method: 'GET', status_class: '2xx' }, 0.001)
    http.observe({ route: '/new', method: 'GET', status_class: '2xx' }, 0.001)
    const f = await tick(d, clock)
    assert.equal(f.http.n, 2, 'only what happened since the start')
    assert.equal(f.http.total, 502, 'the total is still everything')
    assert.deepEqual(Object.keys(f.http.routes).sort(), ['GET /new', 'GET /old'])
    await d.close()
  })
})

describe('custom latency buckets', () => {
  it('follows the request histogram’s own buckets and tells the pages', async () => {
    const clock = new FakeClock()
    const monitor = createMonitor({
      enabled: false,
      runtime: false,
      clock,
      env: {},
      eventLoop: createEventLoopSampler({ clock }),
      recommendations: { builtIn: false },
    })
    const d = createDashboard({ monitor, clock, interval: '10s', window: '30s', instance: 'b' })
    const http = monitor.histogram(
      `${monitor.prefix}http_request_duration_seconds`,
      'h',
      ['route', 'method', 'status_class'],
      [0.01, 0.1],
    )
    for (let i = 0; i < 10; i++) http.observe({ route: '/x', method: 'GET', status_class: '2xx' }, 0.05)
    const f = await tick(d, clock)
    assert.deepEqual(d.hello().bounds, [0.01, 0.1])
    assert.deepEqual(f.http.b, [0, 10, 0])
    assert.ok(f.http.p50 > 10 && f.http.p50 <= 100)
    await d.close()
  })
})

describe('tables', () => {
  it('samples rows every tick, keeps the latest per instance, caps them, and keeps the last good rows on a throw', async () => {
    const { clock, d } = setup()
    let rows: Array<Record<string, string | number>> = [{ sql: 'select 1', ms: 250 }]
    let fail = false
    const off = d.addTable({
      id: 'slow',
      title: 'Slow queries',
      columns: ['sql', 'ms'],
      rows: () => {
        if (fail) throw new Error('db down')
        return rows
      },
    })
    assert.throws(
      () => d.addTable({ id: 'slow', title: 'x', columns: ['a'], rows: () => [] }),
      /already on the dashboard/,
    )
    assert.throws(
      () => d.addTable({ id: 'x', title: 'x', columns: [], rows: () => [] }),
      /columns must be a non-empty array/,
    )
    assert.deepEqual(d.hello().tables, [{ id: 'slow', title: 'Slow queries', columns: ['sql', 'ms'] }])
    await tick(d, clock)
    assert.deepEqual(
      d.state().tables.map((t) => [t.id, t.instance, t.rows]),
      [['slow', 'a', rows]],
    )
    rows = Array.from({ length: 80 }, (_, i) => ({ sql: `q${i}`, ms: i }))
    await tick(d, clock)
    assert.equal(d.state().tables[0]?.rows.length, 50, 'at most 50 rows are kept')
    fail = true
    await tick(d, clock)
    assert.equal(d.state().tables[0]?.rows.length, 50, 'a throw keeps the previous rows')
    off()
    assert.deepEqual(d.state().tables, [])
    assert.deepEqual(d.hello().tables, [])
    await d.close()
  })
})
