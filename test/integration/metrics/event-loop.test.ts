import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMonitor } from '../../../src/metrics/index.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('event-loop delay on the real loop', () => {
  it('regression: an idle loop read p50 10.3 ms (the resolution); now well under it, and a 50 ms busy-wait is seen', async () => {
    const m = createMonitor({ env: {}, collectInterval: '1h', onWarning: () => {} })
    m.collect()
    await sleep(1000)
    const idle = m.collect().runtime?.eventLoop
    assert.ok(idle !== undefined)
    // the bug read the sampler's 10 ms resolution; an idle loop reads well under 1 ms, and a
    // loaded 2-core machine (other test files run in parallel) adds a few ms at most
    assert.ok(idle.delayP50Ms < 8, `idle p50 ${idle.delayP50Ms} ms`)
    const text = await m.metrics()
    const p50 = Number(/^nodejs_eventloop_lag_p50_seconds (\S+)$/m.exec(text)?.[1])
    assert.ok(p50 < 0.008, `nodejs_eventloop_lag_p50_seconds ${p50}`)

    const until = performance.now() + 50
    while (performance.now() < until) {
      // a synchronous stall, as a CPU-bound handler would cause
    }
    await sleep(30)
    assert.ok(m.eventLoop.delayMs >= 40, `the shared source's recent delay ${m.eventLoop.delayMs} ms`)
    const busy = m.collect().runtime?.eventLoop
    assert.ok((busy?.delayMaxMs ?? 0) >= 40, `max after a 50 ms stall ${busy?.delayMaxMs} ms`)
    m.close()
    assert.equal(m.eventLoop.running, false)
  })
})
