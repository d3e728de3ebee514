// Regressions of createPool(): it exceeded max while an idle resource was validated on borrow, and
// a create() that threw left callers waiting the whole acquireTimeout with no cause.
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { describe, it } from 'node:test'
import { isHotpathError } from '../../../src/errors.js'
import { createPool } from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r))
}

describe('createPool holds max while an idle resource is validated on borrow', () => {
  it('max 1: after a release, two concurrent acquires do not get two resources', async () => {
    let made = 0
    const clock = new FakeClock()
    const pool = createPool({
      create: () => ({ id: ++made }),
      // an async validation: the idle resource is out of the idle list while it runs
      validate: async () => {
        await new Promise<void>((r) => setImmediate(r))
        return true
      },
      max: 1,
      acquireTimeout: 1000,
      clock,
    })
    const first = await pool.acquire()
    pool.release(first)
    const a = pool.acquire()
    const b = pool.acquire()
    const gotA = await a
    assert.equal(gotA, first)
    await flush()
    assert.equal(made, 1, 'the second acquire must wait, not create a second resource')
    assert.equal(pool.stats().size, 1)
    assert.equal(pool.stats().waiting, 1)
    pool.release(gotA)
    assert.equal(await b, first)
    assert.equal(made, 1)
  })

  it('max 3 with 20 workers: never more than 3 resources live', async () => {
    let live = 0
    let peak = 0
    const pool = createPool({
      create: async () => {
        live++
        peak = Math.max(peak, live)
        await new Promise<void>((r) => setImmediate(r))
        return {}
      },
      destroy: () => {
        live--
      },
      validate: async () => {
        await new Promise<void>((r) => setImmediate(r))
        return true
      },
      max: 3,
    })
    // three idle resources: the first borrowers validate them while the others arrive
    const warm = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()])
    for (const r of warm) pool.release(r)
    // workers pause between uses, so resources go idle and are validated on the next borrow
    const worker = async (_: unknown, w: number) => {
      for (let i = 0; i < 20; i++) {
        await pool.use(async () => {
          await new Promise<void>((r) => setImmediate(r))
        })
        for (let k = 0; k < (w + i) % 3; k++) await new Promise<void>((r) => setImmediate(r))
      }
    }
    await Promise.all(Array.from({ length: 20 }, worker))
    assert.ok(peak <= 3, `peak live resources ${peak} > max 3`)
    assert.ok(pool.stats().size <= 3)
    await pool.drain()
    assert.equal(live, 0)
  })
})

describe('createPool when create() throws', () => {
  it('rejects the waiting caller at once with E_POOL_CREATE and the create error as cause', async () => {
    const clock = new FakeClock()
    const boom = new Error('connection refused')
    let attempts = 0
    const pool = createPool({
      create: () => {
        attempts++
        throw boom
      },
      acquireTimeout: '10s',
      clock,
    })
    // no clock advance: the rejection must not wait for acquireTimeout
    await assert.rejects(pool.acquire(), (e) => isHotpathError(e, 'E_POOL_CREATE') && e.cause === boom)
    assert.equal(attempts, 1)
  })

  it('an async create() failure also rejects promptly, for every waiting caller', async () => {
    const clock = new FakeClock()
    const boom = new Error('ECONNREFUSED')
    const pool = createPool({
      create: async () => {
        await new Promise<void>((r) => setImmediate(r))
        throw boom
      },
      max: 1,
      clock,
    })
    const results = await Promise.allSettled([pool.acquire(), pool.acquire(), pool.acquire()])
    for (const r of results) {
      assert.equal(r.status, 'rejected')
      const e = (r as PromiseRejectedResult).reason
      assert.ok(isHotpathError(e, 'E_POOL_CREATE'), String(e))
      assert.equal(e.cause, boom)
    }
    assert.equal(pool.stats().waiting, 0)
  })

  it('backs off between create attempts, so a dead backend is not hammered', async () => {
    const clock = new FakeClock()
    let attempts = 0
    let healthy = false
    const pool = createPool({
      create: () => {
        attempts++
        if (!healthy) throw new Error('down')
        return { ok: true }
      },
      clock,
    })
    for (let i = 0; i < 50; i++) {
      await assert.rejects(pool.acquire(), (e) => isHotpathError(e, 'E_POOL_CREATE'))
    }
    assert.equal(attempts, 1, '50 acquires during the backoff make one create() attempt')
    clock.advance(100)
    await assert.rejects(pool.acquire(), (e) => isHotpathError(e, 'E_POOL_CREATE'))
    assert.equal(attempts, 2)
    clock.advance(100)
    await assert.rejects(pool.acquire(), (e) => isHotpathError(e, 'E_POOL_CREATE'))
    assert.equal(attempts, 2, 'the second wait is longer (200 ms)')
    clock.advance(100)
    healthy = true
    const r = await pool.acquire()
    assert.deepEqual(r, { ok: true })
    assert.equal(attempts, 3)
    pool.release(r)
  })
})

describe('createPool releases waiters’ abort listeners', () => {
  it('after an acquire timeout and after drain(), the caller’s signal has no listener left', async () => {
    const clock = new FakeClock()
    const pool = createPool({ create: () => ({}), max: 1, acquireTimeout: 100, clock })
    const caller = new AbortController()
    const held = await pool.acquire()
    const timedOut = pool.acquire(caller.signal)
    clock.advance(100)
    await assert.rejects(timedOut, (e) => isHotpathError(e, 'E_ACQUIRE_TIMEOUT'))
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0)
    const drained = pool.acquire(caller.signal)
    const draining = pool.drain()
    try {
      await assert.rejects(drained, (e) => isHotpathError(e, 'E_POOL_DRAINING'))
      assert.equal(getEventListeners(caller.signal, 'abort').length, 0)
    } finally {
      // drain() waits for borrowed resources: give it back even when an assertion failed
      pool.release(held)
      await draining
    }
  })
})
