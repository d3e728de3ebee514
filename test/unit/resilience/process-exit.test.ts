// Regression: every timer was unref'd, so a script awaiting retry() in backoff or timeout() on a
// hung call exited (code 13, or 0 with main().catch()) before the operation finished.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'

const root = new URL('../../..', import.meta.url).pathname

function runScript(source: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('scripts stay alive while a caller awaits a hotpath timer', () => {
  it('a script awaiting retry() in backoff runs every attempt and exits 0', () => {
    const r = runScript(`
      import { retry, constantBackoff } from './src/resilience/index.ts'
      let calls = 0
      const policy = retry({ maxAttempts: 3, backoff: constantBackoff(50) })
      const value = await policy.execute(async () => {
        calls++
        if (calls < 3) throw new Error('transient')
        return 'done'
      })
      console.log(value, calls)
    `)
    assert.equal(r.stderr.includes('Error'), false, r.stderr)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'done 3')
  })
  it('a script awaiting timeout() on a hung call gets E_TIMEOUT and exits 0', () => {
    const r = runScript(`
      import { timeout } from './src/resilience/index.ts'
      try {
        await timeout(100).execute(() => new Promise(() => {}))
        console.log('resolved')
      } catch (error) {
        console.log(error.code)
      }
    `)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'E_TIMEOUT')
  })
})
