// Regressions found by the resilience audit (Redis).
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { createRateLimiter } from '../../../src/resilience/index.js'
import { redisScope } from '../../helpers/services.js'

const scope = redisScope()
after(() => scope.close())
const client = (): Redis => scope.client({ maxRetriesPerRequest: 1, autoResendUnfulfilledCommands: false })
const prefix = (name: string): string => scope.prefix(name)

describe('Redis rate limiter audit', () => {
  for (const algorithm of ['token-bucket', 'gcra'] as const) {
    it(`regression: ${algorithm} in Redis stored its clock values to 0.1 ms (Lua tostring, 14 digits), so a high rate was not held to the limit (admitted far above it, or far below)`, async () => {
      // 100 per millisecond (100,000 per second): one cost unit is 0.01 ms of GCRA time, below
      // what tostring() keeps of an epoch-ms number, so the stored state never advanced
      const redis = client()
      const rl = createRateLimiter({
        limit: 100,
        window: 1,
        algorithm,
        redis,
        prefix: prefix(`audit-rl-precision-${algorithm}`),
        timeout: '10s',
      })
      // requested in one tick: one script call, one Redis clock reading, so no refill between them
      const ds = await Promise.all(Array.from({ length: 200 }, () => rl.consume('k')))
      const allowed = ds.filter((d) => d.allowed).length
      assert.ok(allowed <= 100, `admitted ${allowed} of 200 with limit 100`)
      assert.ok(allowed >= 99, `admitted only ${allowed}`)
    })
  }
})
