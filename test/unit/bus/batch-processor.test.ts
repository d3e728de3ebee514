import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createBatchProcessor, NonRetryableError } from '../../../src/bus/index.js'
import { isHotpathError } from '../../../src/errors.js'
import { constantBackoff } from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

const settled = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => `err:${e instanceof Error ? e.message : String(e)}`,
  )

describe('createBatchProcessor', () => {
  it('flushes on size at once, per key, and resolves each add after the handler', async () => {
    const clock = new FakeClock()
    const calls: Array<[string, number[], string]> = []
    const bp = createBatchProcessor<number>({
      handler: (items, b) => {
        calls.push([b.key, items, b.reason])
      },
      maxSize: 3,
      maxWait: 1000,
      clock,
    })
    const ps = [bp.add(1, 'a'), bp.add(2, 'b'), bp.add(3, 'a'), bp.add(4, 'a')]
    await clock.tick(0)
    assert.deepEqual(calls, [['a', [1, 3, 4], 'size']])
    assert.equal(await settled(ps[0] as Promise<void>), 'ok')
    assert.equal(bp.pending, 1)
    await clock.tick(1000)
    assert.deepEqual(calls[1], ['b', [2], 'time'])
    await Promise.all(ps)
    assert.equal(bp.stats().bySize, 1)
    assert.equal(bp.stats().byTime, 1)
  })

  it('flushes on time maxWait after the first item of a key, with lateness 0 on an exact clock', async () => {
    const clock = new FakeClock()
    const seen: Array<{ n: number; lateness: number; at: number }> = []
    const start = clock.now()
    const bp = createBatchProcessor<string>({
      handler: (items, b) => {
        seen.push({ n: items.length, lateness: b.lateness, at: clock.now() - start })
      },
      maxSize: 100,
      maxWait: 50,
      clock,
    })
    void bp.add('x')
    await clock.tick(30)
    void bp.add('y')
    await clock.tick(19)
    assert.equal(seen.length, 0)
    await clock.tick(1)
    assert.deepEqual(seen, [{ n: 2, lateness: 0, at: 50 }])
  })

  it('flushes on bytes', async () => {
    const clock = new FakeClock()
    const sizes: number[] = []
    const bp = createBatchProcessor<string>({
      handler: (items) => {
        sizes.push(items.length)
      },
      maxSize: 100,
      maxBytes: 10,
      maxWait: 1000,
      clock,
    })
    void bp.add('aaaa')
    void bp.add('bbbb')
    await clock.tick(0)
    assert.deepEqual(sizes, [])
    void bp.add('cc')
    await clock.tick(0)
    assert.deepEqual(sizes, [3])
    assert.equal(bp.stats().byBytes, 1)
  })

  it('runs at most `concurrency` handler calls at once; ready batches wait their turn', async () => {
    const clock = new FakeClock()
    let running = 0
    let peak = 0
    const gates: Array<() => void> = []
    const bp = createBatchProcessor<number>({
      handler: async () => {
        running++
        peak = Math.max(peak, running)
        await new Promise<void>((r) => gates.push(r))
        running--
      },
      maxSize: 1,
      concurrency: 2,
      clock,
    })
    const ps = [1, 2, 3, 4, 5].map((i) => bp.add(i, String(i)))
    await clock.tick(0)
    assert.equal(running, 2)
    while (gates.length > 0) {
      for (const g of gates.splice(0)) g()
      await clock.tick(0)
    }
    await Promise.all(ps)
    assert.equal(peak, 2)
    assert.equal(bp.stats().batches, 5)
  })

  it('partial failure: a failed item is retried alone with the backoff, the others resolve', async () => {
    const clock = new FakeClock()
    const batches: number[][] = []
    let failOnce = true
    const bp = createBatchProcessor<number>({
      handler: (items, b) => {
        batches.push(items)
        const i = items.indexOf(2)
        if (i >= 0 && failOnce) {
          failOnce = false
          b.fail(i, new Error('two failed'))
        }
      },
      maxSize: 3,
      retry: { attempts: 3, backoff: constantBackoff(200) },
      clock,
    })
    const ps = [1, 2, 3].map((i) => bp.add(i))
    await clock.tick(0)
    assert.equal(await settled(ps[0] as Promise<void>), 'ok')
    assert.equal(await settled(ps[2] as Promise<void>), 'ok')
    assert.equal(bp.pending, 1)
    await clock.tick(199)
    assert.equal(batches.length, 1)
    await clock.tick(1)
    await clock.tick(100) // the retried item waits maxWait (100ms) for company
    assert.deepEqual(batches[1], [2])
    assert.equal(await settled(ps[1] as Promise<void>), 'ok')
    assert.equal(bp.stats().retries, 1)
  })

  it('rejects an item after its attempts, at once for a NonRetryableError', async () => {
    const clock = new FakeClock()
    let calls = 0
    const bp = createBatchProcessor<string>({
      handler: (items) => {
        calls++
        if (items[0] === 'fatal') throw new NonRetryableError('bad input')
        throw new Error('flaky')
      },
      maxSize: 1,
      retry: { attempts: 2, backoff: constantBackoff(10) },
      clock,
    })
    const fatal = settled(bp.add('fatal'))
    const flaky = settled(bp.add('flaky'))
    await clock.tick(0)
    assert.equal(await fatal, 'err:bad input')
    await clock.tick(10)
    await clock.tick(100)
    assert.equal(await flaky, 'err:flaky')
    assert.equal(calls, 3)
    assert.equal(bp.stats().failed, 2)
  })

  it("backpressure: 'reject' throws E_BATCH_FULL, 'block' waits for room", async () => {
    const clock = new FakeClock()
    const rejecting = createBatchProcessor<number>({
      handler: () => {},
      maxPending: 2,
      whenFull: 'reject',
      clock,
    })
    void rejecting.add(1)
    void rejecting.add(2)
    await assert.rejects(rejecting.add(3), (e) => isHotpathError(e, 'E_BATCH_FULL'))

    const blocking = createBatchProcessor<number>({ handler: () => {}, maxPending: 2, maxWait: 10, clock })
    void blocking.add(1)
    void blocking.add(2)
    let third = false
    void blocking.add(3).then(() => {
      third = true
    })
    await clock.tick(0)
    assert.equal(blocking.pending, 2)
    await clock.tick(10) // the first batch settles, the third item gets in
    assert.equal(blocking.pending, 1)
    await clock.tick(10)
    assert.equal(third, true)
  })

  it('close() flushes partial batches and retries waiting items once more, then refuses adds', async () => {
    const clock = new FakeClock()
    const seen: number[] = []
    let fail = true
    const bp = createBatchProcessor<number>({
      handler: (items) => {
        seen.push(...items)
        if (fail) {
          fail = false
          throw new Error('once')
        }
      },
      maxSize: 10,
      maxWait: 1000,
      retry: { attempts: 5, backoff: constantBackoff(60_000) },
      clock,
    })
    const p = bp.add(1)
    await clock.tick(1000)
    assert.deepEqual(seen, [1])
    await bp.close()
    assert.equal(await settled(p), 'ok')
    assert.deepEqual(seen, [1, 1])
    await assert.rejects(bp.add(2), /closed/)
  })

  it('refuses unknown and invalid options, naming them', () => {
    const handler = () => {}
    assert.throws(
      () => createBatchProcessor({ handler, maxSzie: 3 } as never),
      /unknown option "maxSzie".*"maxSize"/,
    )
    assert.throws(() => createBatchProcessor({ handler, maxSize: 0 }), /maxSize must be an integer >= 1/)
    assert.throws(() => createBatchProcessor({ handler, maxWait: -1 }), /maxWait/)
    assert.throws(() => createBatchProcessor({ handler: 1 } as never), /handler must be a function/)
    assert.throws(() => createBatchProcessor({ handler, whenFull: 'drop' } as never), /whenFull/)
  })
})
