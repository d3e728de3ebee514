import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
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
