/**
 * The stated waiting bound (docs/bus.md), on a fake clock: one worker, handlers of 1 ms, urgent
 * arrivals keeping the bus saturated at 100% of its capacity.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createBus, memoryTransport } from '../../../src/bus/index.js'
import { FakeClock } from '../../../src/time.js'

async function saturate(lowEveryMs: number, ageAfter: number, ms: number) {
  const clock = new FakeClock()
  const bus = createBus({
    name: 'sat',
    transport: memoryTransport({ clock }),
    clock,
    concurrency: 1,
    ageAfter,
  })
  const handled = { urgent: 0, low: 0 }
  bus.on('u', async () => {
    await new Promise<void>((r) => clock.setTimeout(r, 1))
    handled.urgent++
    void bus.send('sat', 'u', null, { priority: 'urgent' }) // every urgent handled is replaced: 100% load
  })
  bus.on('l', async () => {
    await new Promise<void>((r) => clock.setTimeout(r, 1))
    handled.low++
  })
  for (let i = 0; i < 50; i++) void bus.send('sat', 'u', null, { priority: 'urgent' })
  let sentLow = 0
  for (let t = 0; t < ms; t++) {
    if (t % lowEveryMs === 0) {
      sentLow++
      void bus.send('sat', 'l', null, { priority: 'low' })
    }
    await clock.tick(1)
  }
  const s = bus.stats()
  await bus.close({ drain: false })
  return { handled, sentLow, maxLowWait: s.byClassMaxWaitMs.low, queuedLow: s.byClassDepth.low }
}

describe('starvation bound', () => {
  it('low within its share (1 in 20 ms vs 1/15 of 1000/s): every low handled, max wait <= (W - w_low + 1) slots = 15 ms', async () => {
    const r = await saturate(20, 1000, 3000)
    assert.ok(r.handled.urgent > 2500, `urgent handled ${r.handled.urgent}`)
    assert.ok(r.handled.low >= r.sentLow - 1, `low handled ${r.handled.low} of ${r.sentLow}`)
    assert.ok(r.maxLowWait <= 15, `low waited up to ${r.maxLowWait} ms`)
  })

  it('low above its share (1 in 5 ms): ageing caps its wait at ageAfter + 2 slots', async () => {
    const r = await saturate(5, 100, 3000)
    assert.ok(r.handled.low >= r.sentLow - 30, `low handled ${r.handled.low} of ${r.sentLow}`)
    assert.ok(r.maxLowWait <= 102, `low waited up to ${r.maxLowWait} ms`)
    assert.ok(r.handled.low / (r.handled.low + r.handled.urgent) >= 1 / 15)
  })
})
