import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createDb, type Db } from '../../../src/db/index.js'
import { openEmbeddedPGlite } from '../../../src/server/embedded-db.js'

// regression: the reference server ran initdb in its own process, and PGlite's WebAssembly
// memory never shrinks (RSS 850 MB at start, over the seeds' 512 MB); it now starts from a
// snapshot made by a child process
describe('the reference server embedded database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotpath-embedded-'))
  const saved = process.env.XDG_CACHE_HOME
  after(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME
    else process.env.XDG_CACHE_HOME = saved
    rmSync(dir, { recursive: true, force: true })
  })

  test('makes the data-directory snapshot once, in a child process, then starts from it', async () => {
    process.env.XDG_CACHE_HOME = join(dir, 'cache')
    const warnings: string[] = []
    const first = await openEmbeddedPGlite((m) => warnings.push(m))
    const { rows } = await first.query<{ shared_buffers: string }>('SHOW shared_buffers')
    assert.equal(rows[0]?.shared_buffers, '16MB')
    await first.close()
    const snapshot = join(dir, 'cache', 'hotpath')
    assert.ok(existsSync(snapshot), 'no snapshot directory')
    const second = await openEmbeddedPGlite((m) => warnings.push(m))
    assert.deepEqual((await second.query<{ n: number }>('SELECT 1 AS n')).rows, [{ n: 1 }])
    await second.close()
    assert.deepEqual(warnings, [])
  })

  test('falls back to a fresh database, with a warning, when the snapshot cannot be made', async () => {
    // the cache "directory" is a file: nothing can be written under it
    const blocker = join(dir, 'blocker')
    writeFileSync(blocker, 'not a directory')
    process.env.XDG_CACHE_HOME = blocker
    const warnings: string[] = []
    const lite = await openEmbeddedPGlite((m) => warnings.push(m))
    assert.deepEqual((await lite.query<{ n: number }>('SELECT 2 AS n')).rows, [{ n: 2 }])
    await lite.close()
    assert.equal(warnings.length, 1)
    assert.match(warnings[0] as string, /starts without its snapshot/)
  })
})

// regression: PGlite ran on the server's own thread, and at 1,000 writes/s its statements held
// the event loop ~40% of the time (POST /api/catalog/:id p95 189 ms at 1,000 users); it runs in a
// worker thread now, and the PGlite driver hands it several statements at once
describe('the embedded database in a worker thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotpath-embedded-worker-'))
  const saved = process.env.XDG_CACHE_HOME
  let lite: Awaited<ReturnType<typeof openEmbeddedPGlite>>
  let db: Db
  before(async () => {
    process.env.XDG_CACHE_HOME = join(dir, 'cache')
    lite = await openEmbeddedPGlite(() => {})
    db = await createDb({ connection: lite, slowQuery: false })
    await db.query('CREATE TABLE t (id int PRIMARY KEY, note text)')
  })
  after(async () => {
    await db.close()
    await lite.close()
    if (saved === undefined) delete process.env.XDG_CACHE_HOME
    else process.env.XDG_CACHE_HOME = saved
    rmSync(dir, { recursive: true, force: true })
  })

  test('hands the worker up to `pipeline` statements at once: none of 8 concurrent ones waits', async () => {
    assert.equal(lite.pipeline, 8)
    const before = db.stats().pool.emptyAcquires
    const rows = await Promise.all(
      Array.from({ length: 8 }, (_, i) => db.query<{ n: number }>('SELECT $1::int AS n', [i])),
    )
    assert.deepEqual(
      rows.map((r) => r.rows[0]?.n),
      [0, 1, 2, 3, 4, 5, 6, 7],
    )
    assert.equal(db.stats().pool.emptyAcquires, before, 'a statement waited in the driver queue')
  })

  test('a transaction still has the connection alone: a statement sent meanwhile runs after it', async () => {
    let release!: () => void
    const held = new Promise<void>((r) => {
      release = r
    })
    let inside!: () => void
    const started = new Promise<void>((r) => {
      inside = r
    })
    const tx = db
      .transaction(async (t) => {
        await t.query("INSERT INTO t VALUES (1, 'uncommitted')")
        inside()
        await held
        throw new Error('roll back')
      })
      .catch((err: Error) => err.message)
    await started
    // interleaved into the open transaction, this would see the uncommitted row
    const count = db.query<{ n: number }>('SELECT count(*)::int AS n FROM t')
    release()
    assert.equal(await tx, 'roll back')
    assert.equal((await count).rows[0]?.n, 0)
  })

  test("errors keep PostgreSQL's fields (SQLSTATE, detail); a closed database refuses at once", async () => {
    await lite.query("INSERT INTO t VALUES (7, 'a')")
    await assert.rejects(lite.query("INSERT INTO t VALUES (7, 'b')"), (err: Record<string, unknown>) => {
      assert.ok(err instanceof Error)
      assert.equal(err.code, '23505')
      assert.match(String(err.detail), /\(id\)=\(7\)/)
      return true
    })
    await assert.rejects(lite.query('SELECT $1::text', [() => 1]), TypeError)
    const other = await openEmbeddedPGlite(() => {})
    await other.close()
    await other.close()
    assert.equal(other.closed, true)
    await assert.rejects(other.query('SELECT 1'), /the embedded database is closed/)
  })
})
