/** The dispatcher with a scenario file on disk: a bad one exits 2 naming file, line and field. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { type CliIo, runCli } from '../../../src/cli/index.js'

const dir = mkdtempSync(join(tmpdir(), 'hotpath-cli-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function io(): CliIo & { errors: string[] } {
  const errors: string[] = []
  return {
    errors,
    out: () => {},
    err: (t) => errors.push(t),
    isTTY: false,
    onInterrupt: () => () => {},
    env: {},
  }
}

test('a bad scenario file exits 2 with file:line: field', async () => {
  const file = join(dir, 'bad.yaml')
  writeFileSync(file, 'target: http://127.0.0.1:1/\nrate: 10\nsteps:\n  - path: /a\n    thinkk: 1s\n')
  const x = io()
  assert.equal(await runCli(['loadtest', '-s', file], x), 2)
  assert.match(
    x.errors.join('\n'),
    new RegExp(`${file}:5: steps\\[0\\]\\.thinkk: unknown field; did you mean "think"\\?`),
  )
})
