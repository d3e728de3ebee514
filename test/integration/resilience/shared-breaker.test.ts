// Regressions of the shared (Redis) circuit breaker: its half-open trial waited on Redis with no
// bound (seconds during a freeze, ~10 s with Redis killed); its subscriber connection kept a
// script alive until dispose(); and wrap() had no dispose().
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { circuitBreaker, consecutive } from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'
import { runScript } from '../../helpers/child.js'
import { cleanupPrefix, PrivateRedis, REDIS_URL, uniquePrefix } from '../../helpers/services.js'

const prefixes: string[] = []
after(async () => {
  for (const p of prefixes) await cleanupPrefix(p)
})

/** Polls `cond` (real time, bounded) so a broken build fails instead of hanging. */
async function eventually(cond: () => boolean, rounds = 200): Promise<boolean> {
  for (let i = 0; i < rounds && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
  return cond()
}

async function halfOpenTrialWith(trouble: (priv: PrivateRedis) => Promise<void> | void): Promise<void> {
  const priv = await PrivateRedis.start()
  const client = new Redis(priv.url)
  client.on('error', () => {})
  const clock = new FakeClock()
  const breaker = circuitBreaker({
    name: 'payments',
    breaker: consecutive(1),
    halfOpenAfter: 1000,
    shared: { redis: client, key: 'circuit:payments', timeout: 100 },
    clock,
  })
  try {
    await client.ping()
    await assert.rejects(
      breaker.execute(async () => {
        throw new Error('down')
      }),
    )
    assert.equal(breaker.state, 'open')
    await trouble(priv)
    clock.advance(1000)
    let ran = false
    const trial = breaker.execute(async () => {
      ran = true
      return 'ok'
    })
    // the claim waits on the unanswering Redis; the configured timeout (fake time) ends the wait
    await new Promise((r) => setTimeout(r, 20))
    clock.advance(100)
    assert.equal(await eventually(() => ran), true, 'the half-open trial ran without waiting for Redis')
    assert.equal(await trial, 'ok')
    assert.equal(breaker.state, 'closed')
  } finally {
    breaker.dispose()
    priv.resume()
    client.disconnect()
    await priv.stop()
  }
}

describe('shared breaker: Redis calls are bounded by the configured timeout', () => {
  it('a half-open trial does not wait on a frozen Redis (SIGSTOP)', async () => {
    await halfOpenTrialWith((priv) => priv.pause())
  })
  it('a half-open trial does not wait on a killed Redis', async () => {
    await halfOpenTrialWith((priv) => priv.stop())
  })
})

describe('a script using a shared breaker exits when it is done', () => {
  it('without dispose(): the breaker’s subscriber does not keep the process alive', () => {
    const p = uniquePrefix('cb-exit')
    prefixes.push(p)
    const r = runScript(`
      import { Redis } from 'ioredis'
      import { circuitBreaker } from './src/resilience/index.ts'
      const redis = new Redis(${JSON.stringify(REDIS_URL)})
      const breaker = circuitBreaker({ shared: { redis, key: ${JSON.stringify(`${p}circuit`)} } })
      await new Promise((r) => setTimeout(r, 100))
      console.log(await breaker.execute(async () => 'paid'))
      await redis.quit()
    `)
    assert.equal(r.status, 0, `exit status ${r.status} (null: still alive at the spawn timeout) ${r.stderr}`)
    assert.equal(r.stdout.trim(), 'paid')
  })

  it('wrap(retry, timeout, shared breaker) then dispose(): exits 0', () => {
    const p = uniquePrefix('cb-exit')
    prefixes.push(p)
    const r = runScript(`
      import { Redis } from 'ioredis'
      import { circuitBreaker, retry, timeout, wrap } from './src/resilience/index.ts'
      const redis = new Redis(${JSON.stringify(REDIS_URL)})
      const policy = wrap(
        retry({ maxAttempts: 2 }),
        circuitBreaker({ shared: { redis, key: ${JSON.stringify(`${p}circuit`)} } }),
        timeout('30s'),
      )
      console.log(await policy.execute(async () => 'paid'))
      policy.dispose()
      policy.dispose()
      await redis.quit()
    `)
    assert.equal(r.status, 0, `exit status ${r.status} ${r.stderr}`)
    assert.equal(r.stdout.trim(), 'paid')
  })
})
