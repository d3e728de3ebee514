/**
 * The L2 store on Redis (ioredis). Every operation goes through the L2 guard (timeout + breaker)
 * and resolves to FAIL instead of throwing, so callers fall through to L1 and the loader.
 * Operations that must be atomic are single Lua scripts, defined once with `defineCommand`.
 *
 * Redis layout under the cache prefix P:
 *   P<key>           the encoded entry (serializer.ts), PX = ttl + grace
 *   P@t:<tag>        set of entry keys carrying the tag, expiring with its longest-lived member
 *   P@l:<key>        the cross-instance loader lock (value: a random token)
 *   P__inv           pub/sub channel of L1 invalidations (invalidation.ts; channels are not keys)
 * <key> and <tag> are encoded (keys.ts): namespaced, and escaped so none of them starts like `@t:`.
 * With Redis Cluster, put a hash tag in the prefix (e.g. '{hp}:') so tag scripts stay in one slot.
 */
import { createRequire } from 'node:module'
import type { Cluster, Redis as RedisClient } from 'ioredis'
import type { Clock } from '../time.js'
import { type BreakerState, FAIL, type Fail, L2Guard, REFUSED, type Refused } from './l2-guard.js'
import { EXPIRES_OFFSET, TAGS_OFFSET } from './serializer.js'
import { type CacheL2Trace, type L2Operation, tracingChannels } from './tracing.js'

const SET_TAGGED = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local px = tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return 1`

// Tag sets are not cleaned when an entry is re-set with other tags, so every member is checked
// against the tags its entry carries now (regression: deleteByTag deleted, in Redis only, an
// entry re-set without the tag, while the writer's L1 kept serving it).
const CARRIES = `
-- true when entry k (written by this version) still carries tag; entries of earlier formats
-- (1, 2) do not say, and are taken to carry it
local function carries(k, tag)
  local fmt = redis.call('GETRANGE', k, 0, 0)
  if fmt == '' then return false end
  local f = string.byte(fmt)
  if f ~= 3 and f ~= 4 then return true end
  local t = struct.unpack('>I4', redis.call('GETRANGE', k, ${TAGS_OFFSET}, ${TAGS_OFFSET + 3}))
  if t == 0 then return false end
  local sec = redis.call('GETRANGE', k, ${TAGS_OFFSET + 4}, ${TAGS_OFFSET + 3} + t)
  local i = 1
  while i + 1 <= #sec do
    local n = struct.unpack('>I2', sec, i)
    if string.sub(sec, i + 2, i + 1 + n) == tag then return true end
    i = i + 2 + n
  end
  return false
end
`

const DELETE_BY_TAG = `${CARRIES}
local n = 0
for i = 1, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[i])
  for _, k in ipairs(members) do
    if carries(k, ARGV[i]) then n = n + redis.call('UNLINK', k) end
  end
  redis.call('DEL', KEYS[i])
end
return n`

const EXPIRE_BY_TAG = `${CARRIES}
local now = tonumber(ARGV[1])
local n = 0
for i = 1, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[i])
  for _, k in ipairs(members) do
    if not carries(k, ARGV[i + 1]) then
      redis.call('SREM', KEYS[i], k)
    else
      local head = redis.call('GETRANGE', k, ${EXPIRES_OFFSET}, ${EXPIRES_OFFSET + 15})
      if #head == 16 then
        local exp, stale = struct.unpack('>dd', head)
        if exp > now then
          -- the grace window moves with the expiry: stale keeps its distance to expiresAt
          stale = stale - (exp - now)
          if stale <= now then
            redis.call('UNLINK', k)
          else
            redis.call('SETRANGE', k, ${EXPIRES_OFFSET}, struct.pack('>dd', now, stale))
            redis.call('PEXPIRE', k, math.ceil(stale - now))
          end
          n = n + 1
        end
      end
    end
  end
end
return n`

const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

interface Scripted {
  hpSetTagged(numKeys: number, ...args: Array<string | Buffer | number>): Promise<number>
  hpDeleteByTag(numKeys: number, ...keysThenTags: string[]): Promise<number>
  hpExpireByTag(numKeys: number, ...args: Array<string | number>): Promise<number>
  hpUnlock(key: string, token: string): Promise<number>
}

/** A Redis client as the cache uses it. */
export type AnyRedis = RedisClient | Cluster

/** Creates an ioredis client from a URL, loading ioredis only now. */
export function connect(url: string): RedisClient {
  const require = createRequire(import.meta.url)
  let mod: { Redis: new (url: string, options: object) => RedisClient }
  try {
    mod = require('ioredis')
  } catch (err) {
    throw new TypeError(`redis needs the ioredis package: npm install ioredis (${(err as Error).message})`)
  }
  return new mod.Redis(url, {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // reconnect quickly and forever; the L2 guard decides when to use the connection
    retryStrategy: (times: number) => Math.min(50 * times, 1000),
  })
}

/** Settings of the L2 store. */
export interface RedisStoreOptions {
  client: AnyRedis
  prefix: string
  timeout: number
  breakerThreshold: number
  breakerProbeInterval: number
  clock: Clock
  onError: (op: string, error: unknown) => void
  onRefused: (op: string, error: unknown) => void
  onBreaker: (state: BreakerState) => void
}

/** The L2 tier. */
export class RedisStore {
  readonly client: AnyRedis
  readonly guard: L2Guard
  private readonly prefix: string
  private readonly scripts: Scripted

  constructor(o: RedisStoreOptions) {
    this.client = o.client
    this.prefix = o.prefix
    const c = o.client as AnyRedis & Partial<Scripted>
    if (typeof c.hpSetTagged !== 'function') {
      c.defineCommand('hpSetTagged', { lua: SET_TAGGED })
      c.defineCommand('hpDeleteByTag', { lua: DELETE_BY_TAG })
      c.defineCommand('hpExpireByTag', { lua: EXPIRE_BY_TAG })
      c.defineCommand('hpUnlock', { numberOfKeys: 1, lua: UNLOCK })
    }
    this.scripts = c as unknown as Scripted
    this.guard = new L2Guard({
      timeout: o.timeout,
      threshold: o.breakerThreshold,
      probeInterval: o.breakerProbeInterval,
      clock: o.clock,
      probe: () => o.client.ping(),
      onFailure: o.onError,
      onRefused: o.onRefused,
      onStateChange: o.onBreaker,
      connection: {
        isReady: () => o.client.status === 'ready',
        onReady: (cb) => {
          this.offReady = onceShared(o.client, 'ready', cb)
        },
        onDown: (cb) => {
          this.offClose = onceShared(o.client, 'close', cb)
        },
        connectTimeout: Math.max(o.timeout, 2000),
      },
    })
  }

  private offReady: (() => void) | undefined
  private offClose: (() => void) | undefined

  /** Stops the guard and removes this store's listeners from the (possibly shared) client. */
  close(): void {
    this.guard.close()
    this.offReady?.()
    this.offClose?.()
  }

  /** One call through the guard (timeout, breaker), traced on `hotpath:cache.l2` when subscribed. */
  private run<T>(op: L2Operation, keys: number, call: Promise<T>): Promise<T | Fail | Refused> {
    const r = this.guard.run(op, call)
    if (!tracingChannels.l2.hasSubscribers) return r
    const trace: CacheL2Trace = { operation: op, prefix: this.prefix, keys, outcome: undefined }
    return tracingChannels.l2.tracePromise(
      () =>
        r.then((v) => {
          trace.outcome = v === FAIL ? 'unavailable' : v === REFUSED ? 'refused' : 'ok'
          return v
        }),
      trace,
    )
  }

  private tagKey(tag: string): string {
    return `${this.prefix}@t:${tag}`
  }

  /** Reads one entry: its bytes, null when absent, FAIL when L2 is unavailable. */
  get(key: string): Promise<Buffer | null | Fail | Refused> {
    if (!this.guard.available) return Promise.resolve(FAIL)
    return this.run('get', 1, this.client.getBuffer(this.prefix + key))
  }

  /** Reads many entries with one MGET. */
  mget(keys: readonly string[]): Promise<Array<Buffer | null> | Fail | Refused> {
    if (!this.guard.available) return Promise.resolve(FAIL)
    if (keys.length === 0) return Promise.resolve([])
    return this.run(
      'mget',
      keys.length,
      this.client.mgetBuffer(keys.map((k) => this.prefix + k)) as Promise<Array<Buffer | null>>,
    )
  }

  /** Writes one entry expiring after `px` ms, adding it to its tags' sets. */
  set(key: string, value: Buffer, px: number, tags: readonly string[] | undefined): Promise<unknown> {
    if (!this.guard.available) return Promise.resolve(FAIL)
    const rk = this.prefix + key
    const ms = Math.max(1, Math.ceil(px))
    if (tags === undefined || tags.length === 0) {
      return this.run('set', 1, this.client.set(rk, value, 'PX', ms))
    }
    return this.run(
      'set',
      1 + tags.length,
      this.scripts.hpSetTagged(1 + tags.length, rk, ...tags.map((t) => this.tagKey(t)), value, ms),
    )
  }

  /** Deletes entries. */
  del(keys: readonly string[]): Promise<unknown> {
    if (keys.length === 0) return Promise.resolve(0)
    if (!this.guard.available) return Promise.resolve(FAIL)
    return this.run('del', keys.length, this.client.unlink(...keys.map((k) => this.prefix + k)))
  }

  /** Deletes every entry carrying one of `tags`. */
  deleteByTag(tags: readonly string[]): Promise<number | Fail | Refused> {
    if (!this.guard.available) return Promise.resolve(FAIL)
    const keys = tags.map((t) => this.tagKey(t))
    return this.run('deleteByTag', keys.length, this.scripts.hpDeleteByTag(keys.length, ...keys, ...tags))
  }

  /** Marks every entry carrying one of `tags` as expired at `now` (kept for grace). */
  expireByTag(tags: readonly string[], now: number): Promise<number | Fail | Refused> {
    if (!this.guard.available) return Promise.resolve(FAIL)
    const keys = tags.map((t) => this.tagKey(t))
    return this.run(
      'expireByTag',
      keys.length,
      this.scripts.hpExpireByTag(keys.length, ...keys, now, ...tags),
    )
  }

  /** Deletes every key under the cache prefix followed by `subPrefix`; returns how many, or FAIL. */
  async clear(subPrefix: string): Promise<number | Fail | Refused> {
    const pattern = `${escapeGlob(this.prefix + subPrefix)}*`
    const nodes: AnyRedis[] =
      'nodes' in this.client && typeof this.client.nodes === 'function'
        ? (this.client as Cluster).nodes('master')
        : [this.client]
    let removed = 0
    for (const node of nodes) {
      let cursor = '0'
      do {
        if (!this.guard.available) return FAIL
        const page = await this.run('scan', 0, node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000))
        if (page === FAIL || page === REFUSED) return page
        cursor = page[0]
        const keys = page[1]
        if (keys.length > 0) {
          const n = await this.run('clear', keys.length, node.unlink(...keys))
          if (n === FAIL || n === REFUSED) return n
          removed += n
        }
      } while (cursor !== '0')
    }
    return removed
  }

  /** Tries to take the loader lock for `key`; true when taken. FAIL when L2 is unavailable. */
  async lock(key: string, token: string, ttl: number): Promise<boolean | Fail> {
    if (!this.guard.available) return FAIL
    const r = await this.run('lock', 1, this.client.set(`${this.prefix}@l:${key}`, token, 'PX', ttl, 'NX'))
    // a refused lock (e.g. OOM) behaves as an unavailable one: the loader runs without it
    return r === FAIL || r === REFUSED ? FAIL : r === 'OK'
  }

  /** Releases the lock if this token still holds it. */
  unlock(key: string, token: string): Promise<unknown> {
    if (!this.guard.available) return Promise.resolve(FAIL)
    return this.run('unlock', 1, this.scripts.hpUnlock(`${this.prefix}@l:${key}`, token))
  }

  /** Publishes on a channel (best effort). */
  publish(channel: string, message: string): Promise<unknown> {
    if (!this.guard.available) return Promise.resolve(FAIL)
    return this.run('publish', 0, this.client.publish(channel, message))
  }
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&')
}

type Listener = () => void
/** One listener per (client, event), fanning out to every cache sharing the client. */
const hubs = new WeakMap<object, Map<string, Set<Listener>>>()

/**
 * Runs `cb` once on the client's next `event`, through one shared listener per client and event,
 * so any number of caches sharing one ioredis client add one listener, not one each
 * (regression: the eleventh cache printed MaxListenersExceededWarning). Returns a remover.
 */
function onceShared(client: AnyRedis, event: 'ready' | 'close', cb: Listener): () => void {
  let byEvent = hubs.get(client)
  if (byEvent === undefined) {
    byEvent = new Map()
    hubs.set(client, byEvent)
  }
  let set = byEvent.get(event)
  if (set === undefined) {
    const waiting = new Set<Listener>()
    set = waiting
    byEvent.set(event, waiting)
    const fire = () => {
      client.off(event, fire)
      byEvent?.delete(event)
      for (const w of waiting) w()
    }
    client.on(event, fire)
    ;(waiting as Set<Listener> & { fire?: Listener }).fire = fire
  }
  const waiting = set
  waiting.add(cb)
  return () => {
    if (!waiting.delete(cb) || waiting.size > 0) return
    const fire = (waiting as Set<Listener> & { fire?: Listener }).fire
    if (fire !== undefined) client.off(event, fire)
    if (byEvent?.get(event) === waiting) byEvent.delete(event)
  }
}
