/**
 * `hotpath advise` against the real PostgreSQL (a schema of its own, dropped after): a missing
 * index is suggested, `--check` exits 1 while it is missing and 0 once `--apply` created it, and a
 * bad workload file is a usage error (exit 2) naming the entry.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import type { CliIo } from '../../../src/cli/io.js'
import { runCli } from '../../../src/cli/run.js'
import { DATABASE_URL } from '../../helpers/services.js'

const schema = `advise_${randomBytes(4).toString('hex')}`
const dir = mkdtempSync(join(tmpdir(), 'hotpath-advise-'))
const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 })

function io(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = []
  const stderr: string[] = []
  return {
    stdout,
    stderr,
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    isTTY: false,
    onInterrupt: () => () => {},
    env: { DATABASE_URL },
  }
}

describe('hotpath advise', () => {
  let workload: string
  before(async () => {
    await admin.query(`CREATE SCHEMA ${schema}`)
    await admin.query(
      `CREATE TABLE ${schema}.orders AS
       SELECT i AS id, i % 5000 AS customer, md5(i::text) AS note FROM generate_series(1, 50000) AS i`,
    )
    await admin.query(`ANALYZE ${schema}.orders`)
    workload = join(dir, 'workload.json')
    writeFileSync(
      workload,
      JSON.stringify([
        { text: `SELECT id, note FROM ${schema}.orders WHERE customer = $1`, params: [42], calls: 500 },
      ]),
    )
  })
  after(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.end()
    rmSync(dir, { recursive: true, force: true })
  })

  it('suggests the missing index; --check exits 1 until --apply creates it', async () => {
    const a = io()
    assert.equal(await runCli(['advise', '--workload', workload], a), 0)
    const text = a.stdout.join('\n')
    assert.ok(text.includes(`CREATE INDEX CONCURRENTLY ON "${schema}"."orders" (customer)`), text)
    const b = io()
    assert.equal(await runCli(['advise', '--workload', workload, '--check'], b), 1)
    const c = io()
    assert.equal(await runCli(['advise', '--workload', workload, '--apply'], c), 0)
    assert.match(c.stderr.join('\n'), /applied: CREATE INDEX CONCURRENTLY/)
    const d = io()
    assert.equal(await runCli(['advise', '--workload', workload, '--check', '--json'], d), 0)
    assert.deepEqual(JSON.parse(d.stdout.join('\n')).suggestions, [])
  })

  it('a bad workload file or a missing database URL is a usage error naming what is wrong', async () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, JSON.stringify([{ text: 'SELECT 1' }, { sql: 'oops' }]))
    const a = io()
    assert.equal(await runCli(['advise', '--workload', bad], a), 2)
    assert.match(a.stderr.join('\n'), /entry 1: "text" must be a non-empty SQL string/)
    const b = io()
    b.env = {}
    assert.equal(await runCli(['advise', '--workload', workload], b), 2)
    assert.match(b.stderr.join('\n'), /--database \(or DATABASE_URL\) must be a postgres:\/\/ URL/)
  })
})
