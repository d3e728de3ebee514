import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import Fastify from 'fastify'
import { createLoader, type Loader, scopeLoaders, sql } from '../../../src/db/index.js'
import { type Backend, pgBackend, pgliteBackend } from './support.js'

describe('batch loading against a real database', () => {
  const backends: Backend[] = []
  after(async () => {
    for (const b of backends) await b.close()
  })

  for (const make of [pgBackend, pgliteBackend]) {
    test(`${make().name}: 64 loads in one tick are one query`, async () => {
      const b = make()
      backends.push(b)
      const db = await b.open()
      await db.query('CREATE TABLE users (id int PRIMARY KEY, name text)')
      await db.query("INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 100) g")
      let queries = 0
      db.on('query', () => queries++)
      const users = createLoader(async (ids: readonly number[]) => {
        const { rows } = await db.query<{ id: number; name: string }>(
          sql`SELECT id, name FROM users WHERE id = ANY(${ids})`,
        )
        const byId = new Map(rows.map((r) => [r.id, r.name]))
        return ids.map((id) => byId.get(id) ?? new Error(`no user ${id}`))
      })
      const names = await Promise.all(Array.from({ length: 64 }, (_, i) => users.load(i + 1)))
      assert.equal(queries, 1)
      assert.equal(names[63], 'user 64')
      await assert.rejects(users.load(1000), /no user 1000/)
    })
  }

  test('batchQuery keeps to its concurrency and returns results in order', async () => {
    const b = pgBackend()
    backends.push(b)
    const db = await b.open()
    const items = Array.from({ length: 12 }, (_, i) => sql`SELECT ${i}::int AS i, pg_sleep(0.01)::text AS s`)
    const results = await db.batchQuery<{ i: number }>(items, { concurrency: 2 })
    assert.deepEqual(
      results.map((r) => r.rows[0]?.i),
      Array.from({ length: 12 }, (_, i) => i),
    )
    assert.ok(db.poolStats().total <= 2, `opened ${db.poolStats().total} connections for concurrency 2`)
    await assert.rejects(db.batchQuery([sql`SELECT 1`, ['SELECT nope', []]], { concurrency: 1 }), /42703/)
  })
})

test('scopeLoaders gives each request its own loader', async () => {
  const app = Fastify()
  let made = 0
  scopeLoaders(app as never, 'loaders', () => {
    made++
    return { double: createLoader(async (ks: readonly number[]) => ks.map((k) => k * 2)) }
  })
  const seen = new Set<unknown>()
  app.get('/', async (req) => {
    const l = (req as unknown as { loaders: { double: Loader<number, number> } }).loaders
    seen.add(l.double)
    return { v: await l.double.load(21) }
  })
  const r1 = await app.inject('/')
  await app.inject('/')
  assert.deepEqual(r1.json(), { v: 42 })
  assert.equal(made, 2)
  assert.equal(seen.size, 2)
  await app.close()
})
