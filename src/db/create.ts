/**
 * `createDb()`: opens the backend named by `connection` (an in-memory PGlite by default), the
 * table-version source (Redis when given), and loads the SQL parser.
 */
import type { Redis } from 'ioredis'
import { loadParser } from './analyze.js'
import { Db } from './client.js'
import type { Driver } from './driver.js'
import { type DbOptions, resolveDbOptions } from './options.js'
import { PgDriver } from './pg-driver.js'
import { openPgPool, type PgPoolLike } from './pg-pool.js'
import { openPGlite, PGliteDriver, type PGliteLike } from './pglite-driver.js'
import { RedisVersions } from './redis-versions.js'
import { LocalVersions, type VersionSource } from './versions.js'

async function openDriver(o: ReturnType<typeof resolveDbOptions>): Promise<Driver> {
  const c = o.connection
  if (typeof c === 'string') {
    return new PgDriver({
      pool: await openPgPool(c, o.max, o.acquireTimeoutMs),
      owned: true,
      name: o.name,
      acquireTimeoutMs: o.acquireTimeoutMs,
    })
  }
  const lite = (db: PGliteLike, owned: boolean) =>
    new PGliteDriver({ db, owned, name: o.name, acquireTimeoutMs: o.acquireTimeoutMs })
  if (c === undefined) return lite(await openPGlite(undefined), true)
  if ('dataDir' in c && typeof c.dataDir === 'string' && !('query' in c)) {
    return lite(await openPGlite(c.dataDir), true)
  }
  if (typeof (c as PgPoolLike).connect === 'function') {
    return new PgDriver({
      pool: c as PgPoolLike,
      owned: false,
      name: o.name,
      acquireTimeoutMs: o.acquireTimeoutMs,
    })
  }
  return lite(c as PGliteLike, false)
}

type Availability = (available: boolean, reason: string) => void

async function openVersions(
  o: ReturnType<typeof resolveDbOptions>,
  onAvailability: Availability,
): Promise<VersionSource> {
  if (o.redis === undefined) return new LocalVersions()
  let client: Redis
  let owned = false
  if (typeof o.redis === 'string') {
    const { Redis: RedisCtor } = await import('ioredis')
    client = new RedisCtor(o.redis, { maxRetriesPerRequest: 2 })
    client.on('error', () => {})
    owned = true
  } else {
    client = o.redis
  }
  return new RedisVersions({
    client,
    key: `${o.prefix}${o.name}:tv`,
    strict: o.strict,
    owned,
    timeoutMs: o.versionTimeoutMs,
    onAvailability,
  })
}

/** Opens a database client. See DbOptions; with no options, an in-memory PGlite. */
export async function createDb(options: DbOptions = {}): Promise<Db> {
  const o = resolveDbOptions(options)
  await loadParser()
  const driver = await openDriver(o)
  let versions: VersionSource
  // the client exists only once its version source does: events before that are delivered late
  let tell: Availability = () => {}
  try {
    versions = await openVersions(o, (available, reason) => tell(available, reason))
  } catch (err) {
    await driver.close()
    throw err
  }
  let db: Db
  try {
    db = new Db(o, driver, versions)
  } catch (err) {
    // nothing opened here may outlive a client that was never returned (Redis sockets keep the
    // process alive)
    await versions.close()
    await driver.close()
    throw err
  }
  tell = (available, reason) => db._versionsChanged(available, reason)
  return db
}
