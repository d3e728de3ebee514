import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { circuitBreaker, consecutive, createRateLimiter } from '../../../src/resilience/index.js'
import { PrivateRedis, REDIS_URL, redisScope } from '../../helpers/services.js'

const scope = redisScope()
after(() => scope.close())
// no silent re-send after a reconnect: a limiter script re-sent would take a second token for
// one answer (the exactness test counts failed calls instead)
const client = (url = REDIS_URL): Redis =>
  scope.client(
    { enableAutoPipelining: true, maxRetriesPerRequest: 1, autoResendUnfulfilledCommands: false },
    url,
  )
const prefix = (name: string): string => scope.prefix(name)

function childAllowed(args: string[]): Promise<{ allowed: number; errors: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [
      '--import',
      'tsx',
      new URL('./limiter-child.ts', import.meta.url).pathname,
      ...args,
    ])
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('exit', (code) =>
      code === 0
        ? resolve({ allowed: Number(out.split(' ')[0]), errors: Number(out.split(' ')[1]) })
        : reject(new Error(`child failed: ${err}`)),
    )
  })
}

describe('Redis rate limiter', () => {
  for (const algorithm of ['token-bucket', 'gcra'] as const) {
    it(`${algorithm}: two processes sharing one key admit exactly the limit in total`, async () => {
      const p = prefix(`rl-exact-${algorithm}`)
      const limit = 500
      // a window of an hour: no refill worth a token during the test
      const rl = createRateLimiter({
        redis: client(),
        prefix: p,
        limit,
        window: '1h',
        algorithm,
        timeout: '5s',
        onRedisError: 'closed',
      })
      const startAt = Date.now() + 2000
      const ourRun = async () => {
        await new Promise((r) => setTimeout(r, startAt - Date.now()))
        let allowed = 0
        // batches of 100 so the two processes interleave
        for (let i = 0; i < 6; i++) {
          const ds = await Promise.all(Array.from({ length: 100 }, () => rl.consume('shared')))
          allowed += ds.filter((d) => d.allowed).length
        }
        return allowed
      }
      const [theirs, ours] = await Promise.all([
        childAllowed([REDIS_URL, p, 'shared', String(limit), '600', algorithm, String(startAt)]),
        ourRun(),
      ])
      const total = theirs.allowed + ours
      const errors = theirs.errors + rl.stats().redisErrors
      const why = `ours ${ours} + theirs ${theirs.allowed}; answered by fail-closed after a Redis error or timeout: ${errors}`
      // never more than the limit, whatever happened
      assert.ok(total <= limit, why)
      // exactly the limit unless a call failed closed: a call that timed out or lost its reply
      // may still have taken its token in Redis (a fail-closed limiter then admits fewer, never
      // more; CI once read 499 here and could not say why, hence the count)
      if (errors === 0) assert.equal(total, limit, why)
      else assert.ok(total >= limit - errors, why)
    })
  }

  it('when Redis is gone: fail open with the insurance limiter, or fail closed', async () => {
    const priv = await PrivateRedis.start()
    try {
      const c = client(priv.url)
      const p = prefix('rl-down')
      const open = createRateLimiter({ redis: c, prefix: p, limit: 3, window: '1m', timeout: 100 })
      const closed = createRateLimiter({
        redis: c,
        prefix: p,
        limit: 3,
        window: '1m',
        timeout: 100,
        onRedisError: 'closed',
      })
      assert.equal((await open.consume('k')).allowed, true)
      priv.pause()
      const during = await Promise.all(Array.from({ length: 5 }, () => open.consume('k2')))
      assert.deepEqual(
        during.map((d) => d.allowed),
        [true, true, true, false, false],
        'the insurance limiter applies the same limit in memory',
      )
      assert.equal((await closed.consume('k3')).allowed, false)
      assert.ok(open.stats().redisErrors >= 5)
      priv.resume()
    } finally {
      await priv.stop()
    }
  })
})

describe('shared circuit breaker', () => {
  it('instances open together through Redis and one trial closes them all', async () => {
    const key = `${prefix('cb-shared')}payments`
    const a = circuitBreaker({
      name: 'a',
      breaker: consecutive(2),
      halfOpenAfter: 200,
      shared: { redis: client(), key },
    })
    const b = circuitBreaker({
      name: 'b',
      breaker: consecutive(2),
      halfOpenAfter: 200,
      shared: { redis: client(), key },
    })
    await new Promise((r) => setTimeout(r, 100)) // subscriptions settle
    const boom = async () => {
      throw new Error('down')
    }
    await assert.rejects(a.execute(boom))
    await assert.rejects(a.execute(boom))
    assert.equal(a.state, 'open')
    const deadline = Date.now() + 3000
    while (b.state !== 'open' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    assert.equal(b.state, 'open', 'b opened because a did')
    await assert.rejects(
      b.execute(async () => 'x'),
      /open/,
    )
    await new Promise((r) => setTimeout(r, 220))
    assert.equal(await b.execute(async () => 'ok'), 'ok', 'b runs the trial')
    assert.equal(b.state, 'closed')
    const stateOf = (cb: typeof a): string => cb.state
    while (stateOf(a) !== 'closed' && Date.now() < deadline + 3000)
      await new Promise((r) => setTimeout(r, 10))
    assert.equal(stateOf(a), 'closed', 'a closed because b did')
    a.dispose()
    b.dispose()
  })
})
