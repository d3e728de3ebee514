/**
 * Table versions shared through Redis: one hash every instance reads and bumps (one Lua script
 * each, so a bump and its message are atomic), and a channel on which bumps are published; each
 * instance keeps a local copy fed by the channel. Until the subscriber is connected, or after it
 * dropped or stopped answering its heartbeat, the local copy is not trusted and every read asks
 * Redis (invalidations may have been missed). With `strict`, every read asks Redis.
 *
 * Redis down or frozen: a call that gets no answer within `timeoutMs` marks the versions
 * unavailable. Reads then answer `undefined` (the client reads from the database, neither serving
 * from nor filling the cache) without waiting; a bump that could not be published is kept, and
 * reads keep bypassing the cache until it has been published. A probe (the heartbeat, or a read
 * at most once per second) publishes the kept bumps first and only then trusts Redis again.
 *
 * Redis restarted empty: the hash carries a random epoch (`~epoch`, created by whichever script
 * finds it missing) added to every version, so versions counted again from zero never reproduce
 * a key cached before the restart.
 */
import type { Redis } from 'ioredis'
import type { VersionSource } from './versions.js'

/** Options of the Redis version registry. */
export interface RedisVersionsOptions {
  client: Redis
  /** Hash key and channel name. */
  key: string
  strict: boolean
  /** Close `client` on close (the registry created it). */
  owned: boolean
  /** Longest wait for Redis before the versions count as unavailable. */
  timeoutMs: number
  /** Told when the versions become unavailable, and when they are available again. */
  onAvailability: (available: boolean, reason: string) => void
}

/** Heartbeat of the subscriber, and the least time between probes while Redis is unavailable. */
const PROBE_MS = 1000

// KEYS[1]: the hash. ARGV[1]: an epoch for a hash that has none. ARGV[2..]: tables.
const EPOCH = `local e = redis.call('HGET', KEYS[1], '~epoch')
if not e then e = ARGV[1]; redis.call('HSET', KEYS[1], '~epoch', e) end
local base = tonumber(e)
local out = {}`
// both answer the versions of ARGV[2..] and then the epoch; a message carries it as '~epoch'
const READ = `${EPOCH}
for i = 2, #ARGV do out[i - 1] = string.format('%.0f', base + (tonumber(redis.call('HGET', KEYS[1], ARGV[i])) or 0)) end
out[#ARGV] = e
return out`
const BUMP = `${EPOCH}
local msg = {}
for i = 2, #ARGV do
  local v = string.format('%.0f', base + redis.call('HINCRBY', KEYS[1], ARGV[i], 1))
  out[i - 1] = v
  msg[ARGV[i]] = v
end
msg['~epoch'] = e
redis.call('PUBLISH', KEYS[1], cjson.encode(msg))
out[#ARGV] = e
return out`

type Scripted = Redis & {
  hpDbVersionsRead(key: string, epoch: string, ...tables: string[]): Promise<string[]>
  hpDbVersionsBump(key: string, epoch: string, ...tables: string[]): Promise<string[]>
}

/** A new epoch for a hash that has none: fresh per call, so a restarted Redis never gets the old one back. */
function epoch(): string {
  return String(1 + Math.floor(Math.random() * 2 ** 40))
}

function timed<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer from Redis within ${ms}ms`)), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (err: unknown) => {
        clearTimeout(t)
        reject(err)
      },
    )
  })
}

/** Versions shared through Redis. */
export class RedisVersions implements VersionSource {
  private readonly v = new Map<string, number>()
  private readonly client: Scripted
  private readonly sub: Redis
  private subscribed = false
  private trusted = false
  /** Bumped whenever trust is lost or regained: a fetch only fills the local copy within one era. */
  private era = 0
  /** The epoch of the hash the local copy comes from (undefined until seen). */
  private hashEpoch: string | undefined
  /** Bumps that could not be published yet. */
  private readonly pending = new Set<string>()
  private down = false
  private nextProbe = 0
  private probing: Promise<boolean> | undefined
  private readonly heartbeat: NodeJS.Timeout

  constructor(private readonly o: RedisVersionsOptions) {
    const c = o.client as Scripted
    if (typeof c.hpDbVersionsRead !== 'function') {
      c.defineCommand('hpDbVersionsRead', { numberOfKeys: 1, lua: READ })
      c.defineCommand('hpDbVersionsBump', { numberOfKeys: 1, lua: BUMP })
    }
    this.client = c
    this.sub = o.client.duplicate()
    this.sub.on('error', () => {
      // reconnects by itself; until then reads ask Redis
    })
    this.sub.on('close', () => {
      this.subscribed = false
      this.distrust()
    })
    this.sub.on('ready', () => {
      this.sub.subscribe(o.key).then(
        () => {
          this.subscribed = true
          this.retrust()
        },
        () => {},
      )
    })
    this.sub.on('message', (_ch: string, msg: string) => this.receive(msg))
    this.heartbeat = setInterval(() => void this.beat(), PROBE_MS)
    this.heartbeat.unref()
  }

  private distrust(): void {
    this.trusted = false
    this.era++
  }

  /** Whatever was missed while away is forgotten, then reloaded from the hash on demand. */
  private retrust(): void {
    this.v.clear()
    this.era++
    this.trusted = true
  }

  /**
   * Notes the epoch of an answer or message. Another one means the hash was deleted and made
   * again (FLUSHDB, eviction under maxmemory, a restart): the local copy is forgotten, since its
   * versions may be higher than every new one (regression: they were kept, and each later bump,
   * numbered from a lower epoch, was taken for an old one and ignored, so cached reads, even the
   * writer's own, stayed stale until their TTL).
   */
  private noteEpoch(e: unknown): void {
    if (typeof e !== 'string' || e === this.hashEpoch) return
    if (this.hashEpoch !== undefined) {
      this.v.clear()
      this.era++
    }
    this.hashEpoch = e
  }

  private receive(msg: string): void {
    try {
      const bumps = JSON.parse(msg) as Record<string, unknown>
      this.noteEpoch(bumps['~epoch'])
      for (const [t, s] of Object.entries(bumps)) {
        if (t === '~epoch') continue
        const n = Number(s)
        if (Number.isFinite(n) && n > (this.v.get(t) ?? Number.NEGATIVE_INFINITY)) this.v.set(t, n)
      }
    } catch {
      // not ours; ignored
    }
  }

  read(tables: readonly string[]): readonly number[] | undefined | Promise<readonly number[] | undefined> {
    if (this.down || this.pending.size > 0) {
      if (this.probing !== undefined || Date.now() < this.nextProbe) return undefined
      return this.probe().then((ok) => (ok ? this.fetch(tables) : undefined))
    }
    if (this.trusted && !this.o.strict) {
      const out = new Array<number>(tables.length)
      let i = 0
      for (; i < tables.length; i++) {
        const n = this.v.get(tables[i] as string)
        if (n === undefined) break
        out[i] = n
      }
      if (i === tables.length) return out
    }
    return this.fetch(tables)
  }

  private async fetch(tables: readonly string[]): Promise<readonly number[] | undefined> {
    if (tables.length === 0) return []
    const era = this.trusted ? this.era : -1
    let raw: string[]
    try {
      raw = await timed(this.client.hpDbVersionsRead(this.o.key, epoch(), ...tables), this.o.timeoutMs)
    } catch (err) {
      this.unavailable(err)
      return undefined
    }
    if (this.down || this.pending.size > 0) return undefined
    this.noteEpoch(raw[tables.length])
    const keep = era === this.era && this.trusted
    return raw.slice(0, tables.length).map((s, i) => {
      const n = Number(s)
      const t = tables[i] as string
      if (keep && n > (this.v.get(t) ?? Number.NEGATIVE_INFINITY)) this.v.set(t, n)
      return n
    })
  }

  async bump(tables: readonly string[]): Promise<void> {
    if (tables.length === 0) return
    if (this.down || this.pending.size > 0) {
      for (const t of tables) this.pending.add(t)
      return
    }
    try {
      await this.publish(tables)
    } catch (err) {
      for (const t of tables) this.pending.add(t)
      this.unavailable(err)
    }
  }

  private async publish(tables: readonly string[]): Promise<void> {
    const res = await timed(this.client.hpDbVersionsBump(this.o.key, epoch(), ...tables), this.o.timeoutMs)
    this.noteEpoch(res[tables.length])
    tables.forEach((t, i) => {
      const n = Number(res[i])
      if (n > (this.v.get(t) ?? Number.NEGATIVE_INFINITY)) this.v.set(t, n)
    })
  }

  private unavailable(err: unknown): void {
    this.nextProbe = Date.now() + PROBE_MS
    if (this.down) return
    this.down = true
    this.distrust()
    this.o.onAvailability(false, err instanceof Error ? err.message : String(err))
  }

  /** Publishes kept bumps, then trusts Redis again; false while it is still unavailable. */
  private probe(): Promise<boolean> {
    this.probing ??= (async () => {
      try {
        if (this.pending.size > 0) {
          const tables = [...this.pending].sort()
          await this.publish(tables)
          for (const t of tables) this.pending.delete(t)
        } else {
          await timed(this.client.ping(), this.o.timeoutMs)
        }
        if (this.pending.size > 0) return false
        if (this.down) {
          this.down = false
          if (this.subscribed) this.retrust()
          this.o.onAvailability(true, 'Redis answers again')
        }
        return true
      } catch (err) {
        this.unavailable(err)
        return false
      } finally {
        this.probing = undefined
      }
    })()
    return this.probing
  }

  /** Background: probes while unavailable; otherwise checks that the subscriber still answers. */
  private async beat(): Promise<void> {
    if (this.down || this.pending.size > 0) {
      if (this.probing === undefined) await this.probe()
      return
    }
    if (this.o.strict || !this.subscribed) return
    try {
      await timed(this.sub.ping(), this.o.timeoutMs)
      if (!this.trusted && !this.down) this.retrust()
    } catch {
      // frozen or gone: bumps may be missed from now on, so reads ask Redis until it answers again
      if (this.trusted) this.distrust()
    }
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat)
    this.sub.disconnect()
    if (this.o.owned) this.o.client.disconnect()
  }
}
