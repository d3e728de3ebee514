/**
 * Shared plumbing of the db integration tests: every test gets its own schema, on the real
 * PostgreSQL (a pool whose search_path is that schema) and on an in-memory PGlite (one per file,
 * since creating one costs about a second; each test still gets its own schema), and everything
 * is dropped afterwards. Not a test file itself.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { createCache } from '../../../src/cache/index.js'
import { createDb, type Db, type DbOptions } from '../../../src/db/index.js'
import { DATABASE_URL } from '../../helpers/services.js'

/** A backend under test. */
export interface Backend {
  name: 'pg' | 'pglite'
  /** A client on a fresh schema; `extra` adds options (a cache...). */
  open(extra?: DbOptions): Promise<Db>
  /** Another client on the schema of the last open() (a second instance of the same app). */
  openAnother(extra?: DbOptions): Promise<Db>
  /** Drops the schemas, closes the clients. */
  close(): Promise<void>
  /** Runs SQL outside the client under test (in the same schema as the last open()). */
  raw(text: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>
}

function schemaName(): string {
  return `t_${randomBytes(5).toString('hex')}`
}

/** The real PostgreSQL: one pool per client, search_path set to the test's schema. */
export function pgBackend(): Backend {
  const dbs: Db[] = []
  const schemas: string[] = []
  const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 })
  let current = ''
  return {
    name: 'pg',
    async open(extra = {}) {
      current = schemaName()
      schemas.push(current)
      await admin.query(`CREATE SCHEMA ${current}`)
      return this.openAnother(extra)
    },
    async openAnother(extra = {}) {
      const url = new URL(DATABASE_URL)
      url.searchParams.set('options', `-c search_path=${current}`)
      const db = await createDb({ connection: url.toString(), max: 4, ...extra })
      dbs.push(db)
      return db
    },
    async raw(text, params) {
      const c = await admin.connect()
      try {
        await c.query(`SET search_path TO ${current}`)
        return (await c.query(text, params)).rows
      } finally {
        await c.query('RESET search_path').catch(() => {})
        c.release()
      }
    },
    async close() {
      for (const db of dbs) await db.close()
      for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`)
      await admin.end()
    },
  }
}

// one in-memory PGlite per test process: creating one costs seconds on a loaded machine, and
// each test still gets a schema of its own (dropped in close()). It is closed when the last
// backend using it closes: a PGlite started from a data-directory dump keeps the process alive
// until closed (regression: test files passed and then hung until the runner's timeout)
let shared: Promise<PGlite> | undefined
let users = 0

/**
 * A fresh in-memory PGlite. Most of PGlite.create() is initdb; the first test process dumps the
 * pristine data directory to a file named for the PGlite version, and every later one starts
 * from that file instead (about a second rather than two to four, per test file).
 */
async function freshPGlite(): Promise<PGlite> {
  // the package does not export package.json: read it beside its entry point (dist/)
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite')
  const pkg = JSON.parse(await readFile(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
    version: string
  }
  const version = pkg.version
  const file = join(tmpdir(), `hotpath-test-pglite-${version}.tar`)
  try {
    const buf = await readFile(file)
    return await PGlite.create({ loadDataDir: new Blob([buf]) })
  } catch {
    // no snapshot yet (or an unreadable one): initdb, then leave a snapshot for the next process
  }
  const lite = await PGlite.create()
  const dump = await lite.dumpDataDir('none')
  const tmp = `${file}.${process.pid}`
  await writeFile(tmp, Buffer.from(await dump.arrayBuffer()))
  await rename(tmp, file)
  return lite
}

/** The process's in-memory PGlite; each open() makes a new schema and points the search_path at it. */
export function pgliteBackend(): Backend {
  let lite: PGlite | undefined
  const dbs: Db[] = []
  const schemas: string[] = []
  return {
    name: 'pglite',
    async open(extra = {}) {
      if (lite === undefined) {
        users++
        shared ??= freshPGlite()
        lite = await shared
      }
      const s = schemaName()
      schemas.push(s)
      await lite.exec(`CREATE SCHEMA ${s}; SET search_path TO ${s}`)
      return this.openAnother(extra)
    },
    async openAnother(extra = {}) {
      if (lite === undefined) throw new Error('open() first')
      const db = await createDb({ connection: lite, ...extra })
      dbs.push(db)
      return db
    },
    async raw(text, params) {
      if (lite === undefined) throw new Error('open() first')
      return (await lite.query<Record<string, unknown>>(text, params)).rows
    },
    async close() {
      for (const db of dbs) await db.close()
      for (const s of schemas) await lite?.exec(`DROP SCHEMA IF EXISTS ${s} CASCADE`)
      if (lite !== undefined) {
        lite = undefined
        if (--users === 0 && shared !== undefined) {
          const last = shared
          shared = undefined
          await (await last).close()
        }
      }
    },
  }
}

/** Both backends, for `for (const make of BACKENDS)` loops. */
export const BACKENDS: ReadonlyArray<() => Backend> = [pgBackend, pgliteBackend]

/** A memory-only cache for a test. */
export function memoryCache() {
  return createCache({ memory: { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 }, earlyRefreshBeta: 0 })
}

/** Polls until `cond` holds (bounded). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await cond()) return
    if (Date.now() >= deadline) assert.fail(`timed out after ${ms}ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
