/**
 * Rate-limit state in Redis: every decision is one Lua script call (loaded once with
 * defineCommand, sent with EVALSHA), timed by the Redis server's clock so all instances agree,
 * which makes the limit exact across instances.
 */
import type { Cluster, Redis } from 'ioredis'
import { type Decision, decideGcra, type Rate } from './algorithms.js'
import type { Algorithm } from './memory.js'

const TOKEN_BUCKET = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local limit = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(s[1])
if tokens == nil then
  tokens = limit
else
  tokens = math.min(limit, tokens + (now - tonumber(s[2])) * perMs)
end
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((limit - tokens) / perMs) + 1000)
return { allowed, tostring(tokens) }`

const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local nxt = tat + cost * interval
if nxt - now <= window then
  redis.call('SET', KEYS[1], tostring(nxt), 'PX', math.ceil(nxt - now) + 1)
  return { 1, tostring(nxt - now), tostring(nxt - now) }
end
return { 0, tostring(tat - now), tostring(nxt - now) }`

interface Scripted {
  hpRateTokenBucket(key: string, limit: number, perMs: number, cost: number): Promise<[number, string]>
  hpRateGcra(key: string, interval: number, window: number, cost: number): Promise<[number, string, string]>
}

/** Keyed limiter state in Redis. */
export class RedisLimiterState {
  private readonly client: Redis | Cluster
  private readonly scripted: Scripted

  constructor(
    client: Redis | Cluster,
    private readonly prefix: string,
    private readonly algorithm: Algorithm,
    private readonly rate: Rate,
  ) {
    this.client = client
    const c = client as (Redis | Cluster) & Partial<Scripted>
    if (typeof c.hpRateGcra !== 'function') {
      c.defineCommand('hpRateTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET })
      c.defineCommand('hpRateGcra', { numberOfKeys: 1, lua: GCRA })
    }
    this.scripted = c as unknown as Scripted
  }

  /** One atomic decision for `key`. */
  async consume(key: string, cost: number): Promise<Decision> {
    const rate = this.rate
    if (this.algorithm === 'gcra') {
      const interval = rate.windowMs / rate.limit
      const [allowed, ahead, wanted] = await this.scripted.hpRateGcra(
        this.prefix + key,
        interval,
        rate.windowMs,
        cost,
      )
      return decideGcra(allowed === 1, Number(ahead), Number(wanted), rate)
    }
    const perMs = rate.limit / rate.windowMs
    const [allowed, left] = await this.scripted.hpRateTokenBucket(this.prefix + key, rate.limit, perMs, cost)
    const tokens = Number(left)
    return {
      allowed: allowed === 1,
      limit: rate.limit,
      remaining: Math.floor(tokens),
      resetMs: (rate.limit - tokens) / perMs,
      retryAfterMs: allowed === 1 ? 0 : (cost - tokens) / perMs,
    }
  }

  /** Forgets a key. */
  async reset(key: string): Promise<void> {
    await this.client.del(this.prefix + key)
  }

  /** The client (for the guard's health check). */
  get redis(): Redis | Cluster {
    return this.client
  }
}
