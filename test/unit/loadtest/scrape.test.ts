import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseExposition, reduceScrape } from '../../../src/loadtest/scrape.js'

const at = (hits: number, misses: number, cpu: number, shed: number) =>
  parseExposition(`# TYPE x gauge
nodejs_eventloop_lag_p99_seconds 0.012
process_cpu_seconds_total ${cpu}
process_resident_memory_bytes 52000000
hotpath_cache_requests_total{cache="c",tier="l1",result="hit"} ${hits}
hotpath_cache_requests_total{cache="c",tier="l1",result="miss"} ${misses}
hotpath_pool_waiting{pool="db"} 3
hotpath_requests_shed_total ${shed}
`)

test('scrapes reduce to event-loop delay, CPU, hit ratio, pool waiters and shed rate', () => {
  const first = reduceScrape(0, at(10, 10, 1, 0), undefined)
  assert.deepEqual(first, { t: 0, eventLoopP99Ms: 12, rssMb: 52, poolWaiting: 3 })
  const second = reduceScrape(2, at(100, 20, 2, 8), { e: at(10, 10, 1, 0), t: 0 })
  assert.equal(second.cpu, 0.5)
  assert.equal(second.cacheHitRatio, 0.9)
  assert.equal(second.shedPerSec, 4)
})
