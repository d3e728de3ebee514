import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Shedder } from '../../../src/fastify/shedding.js'
import {
  createEventLoopSampler,
  createMonitor,
  type EventLoopSource,
  eventLoopRule,
  type RecommendationContext,
} from '../../../src/metrics/index.js'
import { FakeClock } from '../../../src/time.js'

/** A sampler on a fake clock whose probe can be made late by `stall` ms. */
function fakeLoop() {
  const clock = new FakeClock()
  let stall = 0
  const sampler = createEventLoopSampler({ clock, now: () => clock.now() + stall })
  return {
    clock,
    sampler,
    stallNextProbe(ms: number) {
      stall += ms
    },
  }
}

describe('event-loop sampler (the one source)', () => {
  it('regression: an on-time probe reads 0 ms, not the 10 ms resolution', () => {
    const { clock, sampler } = fakeLoop()
    const release = sampler.retain()
    clock.advance(1000)
    const s = sampler.takeStats()
    assert.equal(s.samples, 100)
    assert.equal(s.p50Ms, 0)
    assert.equal(s.p99Ms, 0)
    assert.equal(s.maxMs, 0)
    release()
    assert.equal(sampler.running, false)
  })

  it('a 50 ms stall is seen in the stats and in delayMs, which halves per 100 ms window', () => {
    const { clock, sampler, stallNextProbe } = fakeLoop()
    const release = sampler.retain()
    clock.advance(95)
    stallNextProbe(50)
    clock.advance(5) // the probe due now fires 50 ms late
    assert.ok(Math.abs(sampler.delayMs - 50) < 1e-6, `delayMs ${sampler.delayMs}`)
    const s = sampler.takeStats()
    assert.ok(Math.abs(s.maxMs - 50) < 0.01, `max ${s.maxMs}`)
    assert.equal(s.p50Ms, 0)
    clock.advance(100)
    assert.ok(Math.abs(sampler.delayMs - 25) < 1e-6, `decayed to ${sampler.delayMs}`)
    clock.advance(1000)
    assert.ok(sampler.delayMs < 0.1)
    release()
  })

  it('is shared: the probe runs while anyone retains it; release is idempotent', () => {
    const { clock, sampler } = fakeLoop()
    const a = sampler.retain()
    const b = sampler.retain()
    a()
    a()
    assert.equal(sampler.running, true)
    b()
    assert.equal(sampler.running, false)
    assert.equal(clock.pending, 0)
  })

  it('the monitor reports the sampler figures in the snapshot and Prometheus', async () => {
    const { clock, sampler, stallNextProbe } = fakeLoop()
    const m = createMonitor({ env: {}, eventLoop: sampler, enabled: false, onWarning: () => {} })
    m.start()
    clock.advance(500)
    stallNextProbe(200)
    clock.advance(10)
    const snap = m.collect()
    assert.equal(snap.runtime?.eventLoop.delayP50Ms, 0)
    assert.ok(Math.abs((snap.runtime?.eventLoop.delayMaxMs ?? 0) - 200) < 0.1)
    const text = await m.metrics()
    assert.match(text, /^nodejs_eventloop_lag_p50_seconds 0$/m)
    assert.match(text, /^nodejs_eventloop_lag_max_seconds 0\.2\d*$/m)
    assert.match(text, /^hotpath_event_loop_delay_seconds_bucket\{le="0\.001"\} 50$/m)
    m.close()
    assert.equal(sampler.running, false)
  })

  it('rejects unknown and bad options naming them', () => {
    assert.throws(() => createEventLoopSampler({ resolutoin: '10ms' } as never), /did you mean "resolution"/i)
    assert.throws(() => createEventLoopSampler({ resolution: 0 }), /eventLoop.resolution/)
    assert.throws(() => createEventLoopSampler({ resolution: '50ms', window: '10ms' }), /eventLoop.window/)
    assert.throws(() => createMonitor({ env: {}, eventLoop: {} as never }), /eventLoop/)
  })
})

describe('load shedding reads the shared source', () => {
  const source = (delayMs: number, utilization = 0, heapUsedBytes = 0) => {
    let retained = 0
    const s: EventLoopSource & { retained: () => number } = {
      delayMs,
      delayStartedAt: Number.POSITIVE_INFINITY,
      utilization,
      heapUsedBytes,
      retain: () => {
        retained++
        return () => {
          retained--
        }
      },
      retained: () => retained,
    }
    return s
  }

  it('sheds on the source delay, ELU and heap, and retains the source only while started', () => {
    const busy = source(300)
    const s = new Shedder({ maxEventLoopDelay: '100ms' }, [], busy)
    s.start()
    assert.equal(busy.retained(), 1)
    assert.equal(s.retryAfter(), 6)
    s.stop()
    assert.equal(busy.retained(), 0)
    assert.equal(new Shedder({ maxEventLoopDelay: '100ms' }, [], source(99)).retryAfter(), 0)
    assert.ok(new Shedder({ maxEventLoopUtilization: 0.5 }, [], source(0, 0.9)).retryAfter() > 0)
    assert.ok(new Shedder({ maxHeapUsedBytes: 1000 }, [], source(0, 0, 5000)).retryAfter() > 0)
  })

  it('regression: a stall from before the shedding started (a slow start-up) shed the first requests', () => {
    const old = { ...source(400), delayStartedAt: performance.now() - 1000 }
    const s = new Shedder({ maxEventLoopDelay: '250ms' }, [], old)
    s.start()
    assert.equal(s.retryAfter(), 0)
    const fresh = { ...source(400), delayStartedAt: performance.now() + 60_000 }
    const t = new Shedder({ maxEventLoopDelay: '250ms' }, [], fresh)
    t.start()
    assert.equal(t.retryAfter(), 4)
    s.stop()
    t.stop()
  })

  it('refuses unknown shedding options naming the closest', () => {
    assert.throws(() => new Shedder({ maxEventLoopDelya: '1s' } as never, []), /maxEventLoopDelay/)
  })
})

describe('event-loop rule on real delay', () => {
  it('regression: 95 ms of real delay no longer reads as 105 ms and does not fire', () => {
    const { clock, sampler, stallNextProbe } = fakeLoop()
    const m = createMonitor({ env: {}, eventLoop: sampler, enabled: false, onWarning: () => {} })
    m.start()
    // every probe 95 ms late
    for (let i = 0; i < 50; i++) {
      stallNextProbe(95)
      clock.advance(10)
    }
    const snap = m.collect()
    assert.ok(Math.abs((snap.runtime?.eventLoop.delayP99Ms ?? 0) - 95) < 0.1)
    const ctx = { snapshot: snap, heapHistory: [], previous: new Map() } as unknown as RecommendationContext
    assert.equal(eventLoopRule(ctx), undefined)
    assert.equal(
      m.recommendations().some((r) => r.id === 'event-loop-delay'),
      false,
    )
    m.close()
  })
})
