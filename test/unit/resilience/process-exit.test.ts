// Regression: every timer was unref'd, so a script awaiting retry() in backoff or timeout() on a
// hung call exited (code 13, or 0 with main().catch()) before the operation finished.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runScript } from '../../helpers/child.js'

describe('scripts stay alive while a caller awaits a hotpath timer', () => {
  it('a script awaiting retry() in backoff runs every attempt and exits 0', () => {
    const r = runScript(`
      import { retry, constantBackoff } from './src/resilience/index.ts'
      let calls = 0
      const policy = retry({ maxAttempts: 3, backoff: constantBackoff(50) })
      const value = await policy.execute(async () => {
        calls++
        if (calls < 3) throw new Error('transient')
        return 'done'
      })
      console.log(value, calls)
    `)
    assert.equal(r.stderr.includes('Error'), false, r.stderr)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'done 3')
  })
  it('a script awaiting timeout() on a hung call gets E_TIMEOUT and exits 0', () => {
    const r = runScript(`
      import { timeout } from './src/resilience/index.ts'
      try {
        await timeout(100).execute(() => new Promise(() => {}))
        console.log('resolved')
      } catch (error) {
        console.log(error.code)
      }
    `)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'E_TIMEOUT')
  })
  it('a script awaiting a pool acquire wait gets E_ACQUIRE_TIMEOUT and exits 0', () => {
    const r = runScript(`
      import { createPool } from './src/resilience/index.ts'
      const pool = createPool({ create: () => ({}), max: 1, acquireTimeout: 100 })
      await pool.acquire()
      try {
        await pool.acquire()
        console.log('lent twice')
      } catch (error) {
        console.log(error.code)
      }
    `)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'E_ACQUIRE_TIMEOUT')
  })
  it('a script awaiting a hedge whose first attempt hangs gets the hedged answer and exits 0', () => {
    const r = runScript(`
      import { hedge } from './src/resilience/index.ts'
      const policy = hedge({ delay: 50 })
      const value = await policy.execute((ctx) =>
        ctx.attempt === 1 ? new Promise(() => {}) : Promise.resolve('hedged'),
      )
      console.log(value)
    `)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'hedged')
  })
  // the policy's timer stayed armed (ref'd) after the call finished, holding the script 30 s
  it('a script whose timeout() calls have all finished exits without waiting for the deadline', () => {
    const r = runScript(`
      import { timeout } from './src/resilience/index.ts'
      const policy = timeout('60s')
      console.log(await policy.execute(async () => 'fast'))
    `)
    assert.equal(r.status, 0, `exit status ${r.status} (null: still alive at the spawn timeout) ${r.stderr}`)
    assert.equal(r.stdout.trim(), 'fast')
  })
})
