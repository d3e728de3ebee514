import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type CliIo, runCli } from '../../../src/cli/index.js'
import { serverHeapFlag } from '../../../src/cli/serve.js'

describe('hotpath serve: SERVER_HEAP_MB', () => {
  test('unset: the server child gets a 256 MiB old space', () => {
    assert.deepEqual(serverHeapFlag({}, []), ['--max-old-space-size=256'])
  })

  test('a value sets the cap; 0 leaves V8 its default', () => {
    assert.deepEqual(serverHeapFlag({ SERVER_HEAP_MB: '512' }, []), ['--max-old-space-size=512'])
    assert.deepEqual(serverHeapFlag({ SERVER_HEAP_MB: ' 64 ' }, []), ['--max-old-space-size=64'])
    assert.deepEqual(serverHeapFlag({ SERVER_HEAP_MB: '0' }, []), [])
  })

  test('an explicit --max-old-space-size in NODE_OPTIONS or the flags wins over the default', () => {
    assert.deepEqual(serverHeapFlag({ NODE_OPTIONS: '--max-old-space-size=1024' }, []), [])
    assert.deepEqual(serverHeapFlag({}, ['--max-old-space-size=2048']), [])
    // ... but not over an explicit SERVER_HEAP_MB
    assert.deepEqual(
      serverHeapFlag({ SERVER_HEAP_MB: '300', NODE_OPTIONS: '--max-old-space-size=1024' }, []),
      ['--max-old-space-size=300'],
    )
  })

  test('bad values are refused before the server starts: exit 2 naming the variable', async () => {
    for (const bad of ['abc', '-1', '12', '1.5', '2000000', '256MB']) {
      const errors: string[] = []
      const io: CliIo = {
        out: () => {},
        err: (t) => errors.push(t),
        isTTY: false,
        onInterrupt: () => () => {},
        env: { SERVER_HEAP_MB: bad },
      }
      assert.equal(await runCli(['serve'], io), 2, bad)
      assert.match(errors.join('\n'), /SERVER_HEAP_MB must be 0 \(V8's default\) or an integer from 64/, bad)
      assert.match(
        errors.join('\n'),
        new RegExp(JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
        bad,
      )
    }
  })
})
