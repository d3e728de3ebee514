import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from '../../../src/db/index.js'

test('every interpolated value becomes a numbered parameter', () => {
  const name = "o'brien"
  const s = sql`SELECT * FROM users WHERE name = ${name} AND age > ${30}`
  assert.equal(s.text, 'SELECT * FROM users WHERE name = $1 AND age > $2')
  assert.deepEqual(s.values, [name, 30])
})

test('nested fragments are renumbered after the outer parameters', () => {
  const inner = sql`b = ${2} AND c = ${3}`
  const s = sql`SELECT 1 WHERE a = ${1} AND ${inner} AND d = ${4}`
  assert.equal(s.text, 'SELECT 1 WHERE a = $1 AND b = $2 AND c = $3 AND d = $4')
  assert.deepEqual(s.values, [1, 2, 3, 4])
})

test('a $n inside a string literal of a fragment is left alone', () => {
  const inner = sql`x = '$1' AND y = ${5}`
  const s = sql`SELECT ${0}, ${inner}`
  assert.equal(s.text, "SELECT $1, x = '$1' AND y = $2")
})

test('identifiers are quoted, with embedded quotes doubled', () => {
  const s = sql`SELECT * FROM ${sql.id('public', 'we"ird')}`
  assert.equal(s.text, 'SELECT * FROM "public"."we""ird"')
  assert.throws(() => sql.id(''), TypeError)
})

test('join builds a list of parameters', () => {
  const s = sql`WHERE id IN (${sql.join([1, 2, 3].map((i) => sql`${i}`))})`
  assert.equal(s.text, 'WHERE id IN ($1, $2, $3)')
  assert.deepEqual(s.values, [1, 2, 3])
})

test('calling sql as a function is refused', () => {
  assert.throws(() => (sql as unknown as (s: string) => unknown)('SELECT 1'), /tagged template/)
})

test('statements are frozen', () => {
  const s = sql`SELECT ${1}`
  assert.ok(Object.isFrozen(s) && Object.isFrozen(s.values))
})
