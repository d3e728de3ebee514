/**
 * The reference server's catalogue on hotpath/db: an in-memory PGlite seeded with 200 products by
 * default, PostgreSQL when DATABASE_URL is set (a `hotpath_demo` schema it creates and seeds once).
 * Reads are cached on the server's cache and invalidated by the writes themselves (the db layer
 * parses every write); product reads by id go through a batch loader, so the N lookups of one
 * tick are one query. `BACKEND_LATENCY_MS` adds a simulated latency to every database call, so
 * the caches have something to save on a machine where the database answers in microseconds.
 */
import type { Redis } from 'ioredis'
import { type Cache, createCache } from '../cache/index.js'
import { createDb, createLoader, type Db, type Loader } from '../db/index.js'
import type { Monitor } from '../metrics/index.js'
import { type EmbeddedPGlite, openEmbeddedPGlite } from './embedded-db.js'

/** A product of the demo catalogue. */
export interface Product {
  id: number
  name: string
  category: string
  price: number
  stock: number
  description: string
}

/** Aggregate figures per category. */
export interface CategoryFigures {
  category: string
  products: number
  stock: number
  averagePrice: number
}

const CATEGORIES = ['books', 'music', 'games', 'tools', 'garden', 'kitchen']
const COLUMNS = 'id, name, category, price::float8 AS price, stock, description'

/** The write: price and/or stock of one product (a null leaves the column as it is). */
function updateText(table: string): string {
  return `UPDATE ${table} SET price = coalesce($1::numeric, price), stock = coalesce($2::int, stock)
         WHERE id = $3 RETURNING ${COLUMNS}`
}

/** Options of the catalogue. */
export interface CatalogOptions {
  /** PostgreSQL URL; undefined: an in-memory PGlite. */
  databaseUrl: string | undefined
  cache: Cache
  /** The Redis the cache's L2 is on: the table versions are shared there too. */
  redis: Redis | undefined
  monitor: Monitor
  /** Simulated latency added to each database call. */
  latencyMs: number
  /** Hears why the embedded database started without its snapshot. */
  warn?: (message: string) => void
}

/** The catalogue. `calls` counts the database calls made (reads served by a cache are not). */
export class Catalog {
  calls = 0
  private readonly loader: Loader<number, Product | undefined>

  private constructor(
    readonly db: Db,
    private readonly table: string,
    private readonly latencyMs: number,
    private readonly ownCache: Cache | undefined,
    private readonly lite: EmbeddedPGlite | undefined,
  ) {
    this.loader = createLoader<number, Product | undefined>(
      async (ids) => {
        const rows = await this.run(() =>
          db.query<Product>(`SELECT ${COLUMNS} FROM ${this.table} WHERE id = ANY($1::int[])`, [[...ids]], {
            cache: { ttl: '1m' },
          }),
        )
        const byId = new Map(rows.rows.map((p) => [p.id, p]))
        return ids.map((id) => byId.get(id))
      },
      // no loader-level cache: the query cache is invalidated by writes, a loader's own copy
      // would not be (across instances)
      { name: 'products', maxBatchSize: 100, cache: false },
    )
  }

  /**
   * Opens the database, creates and seeds the table when it is empty. On PostgreSQL the query
   * results live in the server's cache (with its Redis tier, when there is one) and the table
   * versions in the same Redis, so instances sharing the database invalidate each other. An
   * in-memory PGlite belongs to this process alone: its results stay in a memory-only cache with
   * per-process versions (no other instance can write to it).
   */
  static async open(o: CatalogOptions): Promise<Catalog> {
    const shared = o.databaseUrl !== undefined
    const own = shared ? undefined : createCache({ name: 'catalog-queries', ttl: '5m', monitor: o.monitor })
    // the embedded PGlite is opened here (from a snapshot: see embedded-db.ts) and closed by close()
    const lite = shared ? undefined : await openEmbeddedPGlite((m) => o.warn?.(m))
    const db = await createDb({
      name: 'catalog',
      cache: own ?? o.cache,
      monitor: o.monitor,
      connection: o.databaseUrl ?? (lite as EmbeddedPGlite),
      ...(shared && o.redis !== undefined ? { redis: o.redis } : {}),
    })
    const table = o.databaseUrl === undefined ? 'products' : 'hotpath_demo.products'
    try {
      if (o.databaseUrl !== undefined) await db.query('CREATE SCHEMA IF NOT EXISTS hotpath_demo')
      await db.query(
        `CREATE TABLE IF NOT EXISTS ${table} (
          id int PRIMARY KEY, name text NOT NULL, category text NOT NULL,
          price numeric(10,2) NOT NULL, stock int NOT NULL, description text NOT NULL)`,
      )
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)
      if ((rows[0]?.n ?? 0) === 0) {
        await db.query(
          `INSERT INTO ${table} (id, name, category, price, stock, description)
           SELECT i, 'Product ' || i, ($1::text[])[1 + i % $2], round((5 + ((i * 7919) % 9500) / 100.0)::numeric, 2),
                  (i * 31) % 120,
                  'A fine product number ' || i || ', described at some length so responses are worth compressing.'
           FROM generate_series(1, 200) AS i`,
          [CATEGORIES, CATEGORIES.length],
        )
      }
      // PGlite compiles its WebAssembly lazily, function by function, and the JIT warms up as it
      // goes: the first writes after a start pay for both. One write per product that changes
      // nothing, before the server says it is ready, pays it instead (bench/README.md, "server").
      if (lite !== undefined) {
        for (let i = 1; i <= 200; i++) await db.query(updateText(table), [null, null, i])
      }
    } catch (err) {
      await db.close()
      await lite?.close()
      await own?.close()
      throw err
    }
    return new Catalog(db, table, o.latencyMs, own, lite)
  }

  private async run<T>(call: () => Promise<T>): Promise<T> {
    this.calls++
    if (this.latencyMs > 0) {
      const ms = this.latencyMs * (0.75 + Math.random() * 0.5)
      await new Promise((r) => setTimeout(r, ms))
    }
    return call()
  }

  /** Every product, by id (a cached read). */
  async list(): Promise<readonly Product[]> {
    const r = await this.run(() =>
      this.db.query<Product>(`SELECT ${COLUMNS} FROM ${this.table} ORDER BY id`, [], {
        cache: { ttl: '5m' },
      }),
    )
    return r.rows
  }

  /** One product (through the batch loader), or undefined. */
  get(id: number): Promise<Product | undefined> {
    return this.loader.load(id)
  }

  /** Updates price and/or stock; the write invalidates every cached read of the table. */
  async update(id: number, patch: Partial<Pick<Product, 'price' | 'stock'>>): Promise<Product | undefined> {
    const r = await this.run(() =>
      this.db.query<Product>(updateText(this.table), [patch.price ?? null, patch.stock ?? null, id]),
    )
    return r.rows[0]
  }

  /** Stock and average price per category (a cached aggregate). */
  async aggregate(): Promise<readonly CategoryFigures[]> {
    const r = await this.run(() =>
      this.db.query<CategoryFigures>(
        `SELECT category, count(*)::int AS products, sum(stock)::int AS stock,
                round(avg(price), 2)::float8 AS "averagePrice"
         FROM ${this.table} GROUP BY category ORDER BY category`,
        [],
        { cache: { ttl: '30s' } },
      ),
    )
    return r.rows
  }

  /** Closes the database (and its own query cache). */
  async close(): Promise<void> {
    await this.db.close()
    await this.lite?.close()
    await this.ownCache?.close()
  }
}
