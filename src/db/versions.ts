/**
 * Table versions: the stamp that makes cached reads never stale. Every cached read's key carries
 * the current version of each table it reads (and of `*`, bumped by DDL). A write bumps the
 * versions of the tables it touched after it commits, before it returns. So:
 * - a read that starts after the write returned computes a new key: it can neither hit the old
 *   entry nor join a load that started before the commit (no stale refill: drizzle#5828);
 * - a read that started before the commit fills an entry under the old key, which nobody asks for
 *   again: a late fill is harmless by construction.
 * When the versions cannot be known (their Redis is down or frozen), `read()` answers
 * `undefined` and the client reads from the database without the cache (redis-versions.ts).
 */

/** The version source the client uses. */
export interface VersionSource {
  /**
   * Current versions of `tables` (same order); synchronous when known locally; `undefined` when
   * they cannot be known now (the read must bypass the cache: neither served from it nor filled).
   */
  read(tables: readonly string[]): readonly number[] | undefined | Promise<readonly number[] | undefined>
  /**
   * Bumps `tables` (after a commit); resolves once every instance can see the new versions, or
   * once the bump is kept to be published later (then reads bypass the cache until it is).
   * Never rejects because the shared store is unavailable: the write itself has committed.
   */
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
