import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { addInto, quantileMs } from '../../../src/dashboard/quantiles.js'
import { Ring } from '../../../src/dashboard/ring.js'

describe('history ring', () => {
  it('keeps the newest `capacity` items, oldest first, and never grows past them', () => {
    const r = new Ring<number>(3)
    assert.deepEqual(r.toArray(), [])
    assert.equal(r.last(), undefined)
    for (let i = 1; i <= 10; i++) r.push(i)
    assert.equal(r.size, 3)
    assert.deepEqual(r.toArray(), [8, 9, 10])
    assert.equal(r.last(), 10)
  })

  it('returns only what comes from the first accepted item on (replay after Last-Event-ID)', () => {
    const r = new Ring<number>(5)
    for (let i = 1; i <= 7; i++) r.push(i)
    assert.deepEqual(
      r.toArray((n) => n > 5),
      [6, 7],
    )
    assert.deepEqual(
      r.toArray((n) => n > 99),
      [],
    )
  })

  it('refuses a capacity that is not a positive integer', () => {
    assert.throws(() => new Ring(0), /capacity must be an integer >= 1; received 0/)
    assert.throws(() => new Ring(1.5), RangeError)
  })
})

describe('percentiles from buckets', () => {
  const bounds = [0.001, 0.01, 0.1]
  it('interpolates inside the bucket that holds the rank (as histogram_quantile does)', () => {
    // 100 samples: 50 in (0,1ms], 40 in (1,10ms], 10 in (10,100ms]
    const b = [50, 40, 10, 0]
    assert.equal(quantileMs(b, bounds, 0.5), 1)
    assert.ok(Math.abs(quantileMs(b, bounds, 0.9) - 10) < 1e-9)
    assert.ok(Math.abs(quantileMs(b, bounds, 0.95) - 55) < 1e-9)
    assert.ok(Math.abs(quantileMs(b, bounds, 0.25) - 0.5) < 1e-9)
  })

  it('gives 0 with no samples and the highest bound when the rank is in +Inf', () => {
    assert.equal(quantileMs([0, 0, 0, 0], bounds, 0.99), 0)
    assert.equal(quantileMs([0, 0, 0, 5], bounds, 0.5), 100)
  })

  it('adds bucket arrays element-wise (how ticks and instances merge)', () => {
    assert.deepEqual(addInto([1, 2], [3, 4, 5]), [4, 6, 5])
  })
})
