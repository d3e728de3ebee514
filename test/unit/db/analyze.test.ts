import assert from 'node:assert/strict'
import { test } from 'node:test'
import { analyze } from '../../../src/db/analyze.js'

const names = (rels: ReadonlyArray<{ schema: string | undefined; name: string }>) =>
  rels.map((r) => (r.schema === undefined ? r.name : `${r.schema}.${r.name}`)).sort()

test('a plain select is a cacheable read of every table it mentions', async () => {
  const a = await analyze('SELECT * FROM a JOIN s.b ON a.id = b.id WHERE a.x IN (SELECT x FROM c)')
  assert.equal(a.kind, 'read')
  assert.equal(a.uncacheable, undefined)
  assert.deepEqual(names(a.reads), ['a', 'c', 's.b'])
})

test('a CTE that writes makes the statement a write of its target', async () => {
  const a = await analyze('WITH x AS (UPDATE a SET v = 1 WHERE id = $1 RETURNING *) SELECT * FROM x')
  assert.equal(a.kind, 'write')
  assert.deepEqual(names(a.writes), ['a'])
})

test('INSERT ... SELECT, UPDATE ... FROM, DELETE ... USING, MERGE and TRUNCATE name their targets', async () => {
  assert.deepEqual(names((await analyze('INSERT INTO t SELECT * FROM u')).writes), ['t'])
  assert.deepEqual(names((await analyze('UPDATE t SET v = u.v FROM u WHERE t.id = u.id')).writes), ['t'])
  assert.deepEqual(names((await analyze('DELETE FROM t USING u WHERE t.id = u.id')).writes), ['t'])
  assert.deepEqual(
    names((await analyze('MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE')).writes),
    ['t'],
  )
  assert.deepEqual(names((await analyze('TRUNCATE t1, s.t2')).writes), ['s.t2', 't1'])
})

test('DDL, DO and unparsable text are "other": never cached', async () => {
  for (const text of [
    'CREATE TABLE z (id int)',
    'DO $$ BEGIN PERFORM 1; END $$',
    'SELEC 1',
    'SELECT * INTO z FROM t',
  ]) {
    const a = await analyze(text)
    assert.equal(a.kind, 'other', text)
    assert.notEqual(a.uncacheable, undefined)
  }
})

test('locking reads and multi-statement texts are reads that are never cached', async () => {
  assert.match((await analyze('SELECT * FROM t FOR UPDATE')).uncacheable ?? '', /row locks/)
  assert.match((await analyze('SELECT 1; SELECT 2')).uncacheable ?? '', /several/)
})

test('BEGIN / COMMIT are transaction control', async () => {
  assert.equal((await analyze('BEGIN')).kind, 'tx')
  assert.equal((await analyze('COMMIT')).kind, 'tx')
})

test('EXPLAIN reads; EXPLAIN ANALYZE of a write writes', async () => {
  const plain = await analyze('EXPLAIN UPDATE t SET v = 1')
  assert.equal(plain.kind, 'read')
  assert.deepEqual(plain.writes, [])
  const analyzed = await analyze('EXPLAIN (ANALYZE) UPDATE t SET v = 1')
  assert.equal(analyzed.kind, 'write')
  assert.deepEqual(names(analyzed.writes), ['t'])
})

test('fingerprints strip constants', async () => {
  const a = await analyze('SELECT * FROM t WHERE id = 5')
  const b = await analyze('SELECT * FROM t WHERE id = 7')
  assert.equal(a.fingerprint, b.fingerprint)
  assert.notEqual(a.fingerprint, '')
})

test('preparable: one SELECT, VALUES, INSERT, UPDATE, DELETE or MERGE (a data-modifying CTE included); nothing else', async () => {
  for (const text of [
    'SELECT v FROM t WHERE id = $1',
    'VALUES (1), (2)',
    'INSERT INTO t (id) VALUES ($1) RETURNING id',
    'UPDATE t SET v = $1 WHERE id = $2',
    'DELETE FROM t WHERE id = $1',
    'MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE',
    'WITH x AS (UPDATE a SET v = 1 RETURNING *) SELECT * FROM x',
  ]) {
    assert.equal((await analyze(text)).preparable, true, text)
  }
  for (const text of [
    'SELECT 1; SELECT 2',
    'INSERT INTO t VALUES (1); SELECT * FROM t',
    'CREATE TABLE z (id int)',
    'SELECT * INTO z FROM t',
    'TRUNCATE t',
    'SET search_path TO x',
    'SHOW search_path',
    'EXPLAIN SELECT 1',
    'BEGIN',
    'SELEC 1',
  ]) {
    assert.equal((await analyze(text)).preparable, false, text)
  }
})
