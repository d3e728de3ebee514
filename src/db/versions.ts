/**
 * Table versions: the stamp that makes cached reads never stale. Every cached read's key carries
 * the current version of each table it reads (and of `*`, bumped by DDL). A write bumps the
 * versions of the tables it touched after it commits, before it returns. So:
 * - a read that starts after the write returned computes a new key: it can neither hit the old
 *   entry nor join a load that started before the commit (no stale refill: drizzle#5828);
 * - a read that started before the commit fills an entry under the old key, which nobody asks for
 *   again: a late fill is harmless by construction.
 * With Redis the versions live in one hash shared by every instance (HINCRBY, then PUBLISH); each
 * instance keeps a local copy fed by the channel. Until the subscriber is connected, or after it
 * dropped, the local copy is not trusted and every read asks Redis (invalidations may be missed).
 * With `strict`, every read asks Redis: read-after-write across instances, for one round trip.
 */
import type { Redis } from 'ioredis'

/** The version source the client uses. */
export interface VersionSource {
  /** Current versions of `tables` (same order); synchronous when known locally. */
  read(tables: readonly string[]): readonly number[] | Promise<readonly number[]>
  /** Bumps `tables` (after a commit); resolves once every instance can see the new versions. */
  bump(tables: readonly string[]): Promise<void>
  close(): Promise<void>
}

/** Versions in this process only (no Redis): right for one instance, or a cache without L2. */
export class LocalVersions implements VersionSource {
  private readonly v = new Map<string, number>()
  // a random base so that keys from an earlier process (in a shared L2) never match this one's
  private readonly base = Math.floor(Math.random() * 2 ** 40)

  read(tables: readonly string[]): readonly number[] {
    const out = new Array<number>(tables.length)
    for (let i = 0; i < tables.length; i++) out[i] = this.v.get(tables[i] as string) ?? this.base
    return out
  }

  bump(tables: readonly string[]): Promise<void> {
    for (const t of tables) this.v.set(t, (this.v.get(t) ?? this.base) + 1)
    return Promise.resolve()
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

/** Options of the Redis version registry. */
export interface RedisVersionsOptions {
  client: Redis
  /** Hash key and channel name. */
  key: string
  strict: boolean
  /** Close `client` on close (the registry created it). */
  owned: boolean
}

/** Versions shared through Redis. */
export class RedisVersions implements VersionSource {
  private readonly v = new Map<string, number>()
  private readonly sub: Redis
  private trusted = false
  /** Bumped whenever trust is lost or regained: a fetch only fills the local copy within one era. */
  private era = 0

  constructor(private readonly o: RedisVersionsOptions) {
    this.sub = o.client.duplicate()
    this.sub.on('error', () => {
      // reconnects by itself; until then reads ask Redis
    })
    this.sub.on('close', () => {
      this.trusted = false
      this.era++
    })
    this.sub.on('ready', () => {
      // whatever was missed while away is forgotten, then reloaded from the hash on demand
      this.sub.subscribe(o.key).then(
        () => {
          this.v.clear()
          this.era++
          this.trusted = true
        },
        () => {},
      )
    })
    this.sub.on('message', (_ch: string, msg: string) => this.receive(msg))
  }

  private receive(msg: string): void {
    try {
      const bumps = JSON.parse(msg) as Record<string, unknown>
      for (const [t, n] of Object.entries(bumps)) {
        if (typeof n === 'number' && n > (this.v.get(t) ?? Number.NEGATIVE_INFINITY)) this.v.set(t, n)
      }
    } catch {
      // not ours; ignored
    }
  }

  read(tables: readonly string[]): readonly number[] | Promise<readonly number[]> {
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

  private async fetch(tables: readonly string[]): Promise<readonly number[]> {
    if (tables.length === 0) return []
    const era = this.trusted ? this.era : -1
    const raw = await this.o.client.hmget(this.o.key, ...tables)
    const keep = era === this.era && this.trusted
    return raw.map((s, i) => {
      const n = s === null ? 0 : Number(s)
      const t = tables[i] as string
      if (keep && n > (this.v.get(t) ?? Number.NEGATIVE_INFINITY)) this.v.set(t, n)
      return n
    })
  }

  async bump(tables: readonly string[]): Promise<void> {
    if (tables.length === 0) return
    const multi = this.o.client.multi()
    for (const t of tables) multi.hincrby(this.o.key, t, 1)
    const res = await multi.exec()
    const bumps: Record<string, number> = {}
    tables.forEach((t, i) => {
      const [err, n] = (res?.[i] ?? [new Error('no reply'), 0]) as [Error | null, number]
      if (err !== null) throw err
      bumps[t] = n
      if (n > (this.v.get(t) ?? Number.NEGATIVE_INFINITY)) this.v.set(t, n)
    })
    await this.o.client.publish(this.o.key, JSON.stringify(bumps))
  }

  async close(): Promise<void> {
    this.sub.disconnect()
    if (this.o.owned) this.o.client.disconnect()
  }
}
