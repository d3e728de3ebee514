/**
 * Rate-limit state in Redis. Every decision is made by a Lua script (loaded once with
 * defineCommand, sent with EVALSHA) on the Redis server's clock, so all instances agree and the
 * limit is exact across instances.
 *
 * Decisions requested in the same tick are sent together: one script call decides a whole batch
 * (still atomically, in arrival order). Under concurrency this turns a hundred round trips'
 * worth of client work into one, which is where a Node client spends its time. With a Redis
 * Cluster, keys of a batch may live in different slots, so each decision goes alone.
 */
import type { Cluster, Redis } from 'ioredis'
import type { TimeoutPolicy } from '../timeout.js'
import { type Decision, decideGcra, type Rate } from './algorithms.js'
import type { Algorithm } from './memory.js'

// tostring() keeps 14 significant digits: an epoch in ms (13 digits) to 0.1 ms, coarser than a
// cost unit at a high rate (0.01 ms at 100 per ms), so stored clock values are written with 17
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local function num(x) return string.format('%.17g', x) end
`

const TOKEN_BUCKET = `${NOW}
local limit = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS do
  local cost = tonumber(ARGV[2 + i])
  local s = redis.call('HMGET', KEYS[i], 't', 'ts')
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
  redis.call('HSET', KEYS[i], 't', num(tokens), 'ts', num(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((limit - tokens) / perMs) + 1000)
  out[#out + 1] = allowed
  out[#out + 1] = num(tokens)
end
return out`

const GCRA = `${NOW}
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS do
  local cost = tonumber(ARGV[2 + i])
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if tat == nil or tat < now then tat = now end
  local nxt = tat + cost * interval
  out[#out + 1] = 0
  if nxt - now <= window then
    redis.call('SET', KEYS[i], num(nxt), 'PX', math.ceil(nxt - now) + 1)
    out[#out] = 1
    out[#out + 1] = num(nxt - now)
  else
    out[#out + 1] = num(tat - now)
  end
  out[#out + 1] = num(nxt - now)
end
return out`

type Reply = Array<number | string>

interface Scripted {
  hpRateTokenBucket(numKeys: number, ...args: Array<string | number>): Promise<Reply>
  hpRateGcra(numKeys: number, ...args: Array<string | number>): Promise<Reply>
}

interface Pending {
  key: string
  cost: number
  resolve: (d: Decision) => void
  reject: (e: unknown) => void
}

/** Keyed limiter state in Redis. */
export class RedisLimiterState {
  private readonly client: Redis | Cluster
  private readonly scripted: Scripted
  private readonly batching: boolean
  private pending: Pending[] = []
  private scheduled = false

  constructor(
    client: Redis | Cluster,
    private readonly prefix: string,
    private readonly algorithm: Algorithm,
    private readonly rate: Rate,
    /** Bounds each script call (one timeout per batch, not per decision). */
    private readonly guard: TimeoutPolicy,
    /** Most decisions per script call. */
    private readonly maxBatch = 256,
  ) {
    this.client = client
    const c = client as (Redis | Cluster) & Partial<Scripted>
    if (typeof c.hpRateGcra !== 'function') {
      c.defineCommand('hpRateTokenBucket', { lua: TOKEN_BUCKET })
      c.defineCommand('hpRateGcra', { lua: GCRA })
    }
    this.scripted = c as unknown as Scripted
    this.batching = typeof (client as { nodes?: unknown }).nodes !== 'function'
  }

  /** One atomic decision for `key`. */
  consume(key: string, cost: number): Promise<Decision> {
    if (!this.batching) {
      const one: Pending = { key, cost, resolve: () => {}, reject: () => {} }
      return this.guard.execute(() => this.send([one])).then((ds) => ds[0] as Decision)
    }
    return new Promise<Decision>((resolve, reject) => {
      this.pending.push({ key, cost, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        queueMicrotask(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    const all = this.pending
    this.pending = []
    for (let i = 0; i < all.length; i += this.maxBatch) {
      const batch = all.slice(i, i + this.maxBatch)
      this.guard
        .execute(() => this.send(batch))
        .then(
          (ds) => {
            for (let j = 0; j < batch.length; j++) (batch[j] as Pending).resolve(ds[j] as Decision)
          },
          (err: unknown) => {
            for (const p of batch) p.reject(err)
          },
        )
    }
  }

  private async send(batch: Pending[]): Promise<Decision[]> {
    const rate = this.rate
    const keys = batch.map((p) => this.prefix + p.key)
    const costs = batch.map((p) => p.cost)
    const out: Decision[] = []
    if (this.algorithm === 'gcra') {
      const interval = rate.windowMs / rate.limit
      const r = await this.scripted.hpRateGcra(keys.length, ...keys, interval, rate.windowMs, ...costs)
      for (let j = 0; j < batch.length; j++) {
        out.push(decideGcra(r[3 * j] === 1, Number(r[3 * j + 1]), Number(r[3 * j + 2]), rate))
      }
      return out
    }
    const perMs = rate.limit / rate.windowMs
    const r = await this.scripted.hpRateTokenBucket(keys.length, ...keys, rate.limit, perMs, ...costs)
    for (let j = 0; j < batch.length; j++) {
      const allowed = r[2 * j] === 1
      const tokens = Number(r[2 * j + 1])
      out.push({
        allowed,
        limit: rate.limit,
        remaining: Math.floor(tokens),
        resetMs: (rate.limit - tokens) / perMs,
        retryAfterMs: allowed ? 0 : ((batch[j] as Pending).cost - tokens) / perMs,
      })
    }
    return out
  }

  /** Forgets a key. */
  async reset(key: string): Promise<void> {
    await this.client.del(this.prefix + key)
  }
}
