import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { createMonitor } from '../../../src/metrics/index.js'
import {
  adaptiveLimit,
  bulkhead,
  circuitBreaker,
  consecutive,
  createPool,
} from '../../../src/resilience/index.js'

/** `# TYPE name type` lines of an exposition. */
const types = (text: string) =>
  new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]))

describe('metric names', () => {
  it("regression: runtime metrics were copies of prom-client's defaults under hotpath_* names; now the standard names", async () => {
    const m = createMonitor({ env: {}, enabled: false, onWarning: () => {} })
    m.start()
    m.collect()
    const ours = types(await m.metrics())
    m.close()
    const reference = new Registry()
    collectDefaultMetrics({ register: reference })
    const standard = types(await reference.metrics())
    const expected = [
      'process_cpu_user_seconds_total',
      'process_cpu_system_seconds_total',
      'process_cpu_seconds_total',
      'process_start_time_seconds',
      'process_resident_memory_bytes',
      'process_open_fds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p50_seconds',
      'nodejs_eventloop_lag_p90_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_eventloop_lag_max_seconds',
      'nodejs_active_handles',
      'nodejs_active_requests',
      'nodejs_active_resources',
      'nodejs_heap_size_total_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_external_memory_bytes',
      'nodejs_heap_space_size_used_bytes',
      'nodejs_version_info',
      'nodejs_gc_duration_seconds',
    ]
    for (const name of expected) {
      assert.equal(
        ours.get(name),
        standard.get(name),
        `${name}: ours ${ours.get(name)}, prom-client ${standard.get(name)}`,
      )
    }
    for (const old of [
      'hotpath_resident_memory_bytes',
      'hotpath_heap_used_bytes',
      'hotpath_event_loop_lag_seconds',
    ]) {
      assert.equal(ours.has(old), false, `${old} is gone`)
    }
    for (const name of ours.keys()) {
      if (name.startsWith('hotpath_')) {
        assert.ok(!standard.has(name.replace(/^hotpath_/, '')), `${name} has a standard name`)
      }
    }
    assert.equal(ours.get('hotpath_event_loop_utilization_ratio'), 'gauge')
    assert.equal(ours.get('hotpath_event_loop_delay_seconds'), 'histogram')
  })

  it('a registry that already has the default metrics keeps them; the monitor adds only its own', async () => {
    const registry = new Registry()
    collectDefaultMetrics({ register: registry })
    const m = createMonitor({ env: {}, enabled: false, registry, onWarning: () => {} })
    m.collect()
    const text = await m.metrics()
    assert.equal(text.match(/^# TYPE process_resident_memory_bytes /gm)?.length, 1)
    assert.match(text, /^# TYPE hotpath_event_loop_utilization_ratio gauge$/m)
    m.close()
  })

  it('regression: hotpath_component_stat{field} mixed counters and gauges; each stat has its name and type', async () => {
    const m = createMonitor({ env: {}, enabled: false, runtime: false, onWarning: () => {} })
    const cb = circuitBreaker({ monitor: m, name: 'payments', breaker: consecutive(2) })
    const pool = createPool({ monitor: m, name: 'db', max: 3, create: () => ({}) })
    bulkhead(2, 1, { monitor: m, name: 'reports' })
    adaptiveLimit({ monitor: m, name: 'api' })
    await cb.execute(() => 1)
    await assert.rejects(cb.execute(() => Promise.reject(new Error('x'))))
    const r = await pool.acquire()
    m.collect()
    await cb.execute(() => 1)
    m.collect()
    const text = await m.metrics()
    const t = types(text)
    assert.equal(t.has('hotpath_component_stat'), false)
    assert.equal(t.get('hotpath_circuit_breaker_calls_total'), 'counter')
    assert.match(text, /^hotpath_circuit_breaker_calls_total\{name="payments"\} 3$/m)
    assert.match(text, /^hotpath_circuit_breaker_failures_total\{name="payments"\} 1$/m)
    assert.equal(t.get('hotpath_circuit_breaker_consecutive_failures'), 'gauge')
    assert.equal(t.get('hotpath_pool_in_use'), 'gauge')
    assert.match(text, /^hotpath_pool_in_use\{name="db"\} 1$/m)
    assert.equal(t.get('hotpath_pool_acquired_total'), 'counter')
    assert.equal(t.get('hotpath_pool_acquire_avg_seconds'), 'gauge')
    assert.equal(t.get('hotpath_bulkhead_queue_limit'), 'gauge')
    assert.equal(t.get('hotpath_adaptive_limit_limit'), 'gauge')
    assert.equal(t.get('hotpath_adaptive_limit_avg_rtt_seconds'), 'gauge')
    for (const name of t.keys()) assert.doesNotMatch(name, /_ms(_|$)/, `${name} is in seconds`)
    pool.release(r)
    await pool.drain()
    m.collect()
    assert.doesNotMatch(
      await m.metrics(),
      /^hotpath_pool_in_use\{name="db"\}/m,
      'a drained pool leaves no gauges',
    )
    m.close()
  })
})
