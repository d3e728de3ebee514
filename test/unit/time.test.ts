import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FakeClock, MAX_TIMER_MS, toMs, toTimerMs } from '../../src/time.js'

describe('toMs', () => {
  it('parses every unit', () => {
    assert.equal(toMs(250), 250)
    assert.equal(toMs('250ms'), 250)
    assert.equal(toMs('30s'), 30_000)
    assert.equal(toMs('1.5s'), 1500)
    assert.equal(toMs('5m'), 300_000)
    assert.equal(toMs('1h'), 3_600_000)
    assert.equal(toMs('1d'), 86_400_000)
  })
  it('rejects malformed values naming the option', () => {
    assert.throws(() => toMs('5 minutes', 'ttl'), { name: 'RangeError', message: /ttl.*"5 minutes"/ })
    assert.throws(() => toMs(-1, 'grace'), { name: 'RangeError', message: /grace.*-1/ })
    assert.throws(() => toMs(Number.NaN, 'ttl'), RangeError)
    assert.throws(() => toMs(Number.POSITIVE_INFINITY, 'ttl'), RangeError)
    assert.throws(() => toMs({}, 'ttl'), { name: 'TypeError', message: /ttl/ })
  })
  it('refuses durations above the given maximum, naming the option', () => {
    assert.equal(toMs('30d', 'ttl'), 30 * 86_400_000)
    assert.throws(() => toMs(1e308, 'ttl'), { name: 'RangeError', message: /ttl must be at most/ })
    assert.throws(() => toMs('3s', 'x', 1000), { name: 'RangeError', message: /x must be at most 1000 ms/ })
  })
})

describe('toTimerMs', () => {
  it('accepts what a timer can hold and refuses more (regression: 30d timeouts fired after 1 ms)', () => {
    assert.equal(toTimerMs('24d', 'timeout'), 24 * 86_400_000)
    assert.equal(toTimerMs(MAX_TIMER_MS, 'timeout'), MAX_TIMER_MS)
    assert.throws(() => toTimerMs('30d', 'timeout'), {
      name: 'RangeError',
      message: /timeout must be at most 2147483647 ms \(about 24 days\)/,
    })
  })
})

describe('FakeClock', () => {
  it('fires timers in order only when advanced', () => {
    const clock = new FakeClock(0)
    const fired: string[] = []
    clock.setTimeout(() => fired.push('b'), 20)
    clock.setTimeout(() => fired.push('a'), 10)
    const c = clock.setTimeout(() => fired.push('c'), 15)
    clock.clearTimeout(c)
    clock.advance(9)
    assert.deepEqual(fired, [])
    clock.advance(11)
    assert.deepEqual(fired, ['a', 'b'])
    assert.equal(clock.now(), 20)
    assert.equal(clock.pending, 0)
  })
  it('runs timers scheduled by timers within the same advance', () => {
    const clock = new FakeClock(0)
    const at: number[] = []
    clock.setTimeout(() => {
      at.push(clock.now())
      clock.setTimeout(() => at.push(clock.now()), 5)
    }, 5)
    clock.advance(20)
    assert.deepEqual(at, [5, 10])
  })
})
