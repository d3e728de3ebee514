import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  circuitBreaker,
  consecutive,
  constantBackoff,
  fallback,
  retry,
  timeout,
  tracingChannels,
  wrap,
} from '../../../src/resilience/index.js'
import { record } from '../../helpers/trace-recorder.js'

describe('resilience tracing channel', () => {
  it('is hotpath:resilience.execute and silent without subscribers', () => {
    assert.equal(tracingChannels.execute.hasSubscribers, false)
  })

  it('retry: one trace per execute with the attempts made, success or failure', async () => {
    const r = record(tracingChannels.execute)
    try {
      const policy = retry({ name: 'fetch', maxAttempts: 3, backoff: constantBackoff(0) })
      let n = 0
      assert.equal(
        await policy.execute(() => {
          if (++n < 3) throw new Error('flaky')
          return 'ok'
        }),
        'ok',
      )
      await assert.rejects(
        policy.execute(() => {
          throw new Error('always')
        }),
        /always/,
      )
      const done = r.settled()
      assert.deepEqual(
        done.map((c) => [c.kind, c.name, c.attempts, c.result, (c.error as Error | undefined)?.message]),
        [
          ['retry', 'fetch', 3, 'ok', undefined],
          ['retry', 'fetch', 3, undefined, 'always'],
        ],
      )
      assert.equal(r.errors().length, 1)
    } finally {
      r.stop()
    }
  })

  it('circuit breaker: the state each call found, and whether it was refused without running', async () => {
    const r = record(tracingChannels.execute)
    try {
      const breaker = circuitBreaker({ name: 'db', breaker: consecutive(1), halfOpenAfter: '1h' })
      assert.equal(await breaker.execute(() => 1), 1)
      await assert.rejects(
        breaker.execute(() => {
          throw new Error('fail')
        }),
      )
      let ran = false
      await assert.rejects(
        breaker.execute(() => {
          ran = true
          return 2
        }),
        { code: 'E_CIRCUIT_OPEN' },
      )
      assert.equal(ran, false)
      assert.deepEqual(
        r.settled().map((c) => [c.kind, c.name, c.state, c.rejected]),
        [
          ['circuit-breaker', 'db', 'closed', false],
          ['circuit-breaker', 'db', 'closed', false],
          ['circuit-breaker', 'db', 'open', true],
        ],
      )
    } finally {
      r.stop()
    }
  })

  it('wrap: nested traces, outermost first, each policy once', async () => {
    const r = record(tracingChannels.execute)
    try {
      const policy = wrap(
        fallback(() => 'fallback', { name: 'fb' }),
        retry({ name: 'rt', maxAttempts: 2, backoff: constantBackoff(0) }),
        timeout('1s', { name: 'to' }),
      )
      assert.equal(
        await policy.execute(() => {
          throw new Error('x')
        }),
        'fallback',
      )
      const starts = r.events.filter((e) => e.event === 'start').map((e) => e.context.kind)
      // the timeout runs once per attempt
      assert.deepEqual(starts, ['wrap', 'fallback', 'retry', 'timeout', 'timeout'])
      const retryTrace = r.settled().find((c) => c.kind === 'retry')
      assert.equal(retryTrace?.attempts, 2)
      const wrapTrace = r.settled().find((c) => c.kind === 'wrap')
      assert.equal(wrapTrace?.name, 'fb+rt+to')
      assert.equal(wrapTrace?.result, 'fallback')
    } finally {
      r.stop()
    }
  })
})
