import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, it } from 'node:test'
import { startChild } from './child-server.js'

// Regression: each of these crashed with a raw stack trace from deep inside the cache, the monitor
// or the DNS lookup, and exit code 1, instead of the configuration error the README promises.
const BAD: Array<[name: string, value: string]> = [
  ['CACHE_DEFAULT_TTL', '0'],
  ['METRICS_COLLECTION_INTERVAL', 'abc'],
  ['PERFORMANCE_MONITORING_ENABLED', 'perhaps'],
  ['HOST', 'not-a-host'],
  ['HOST', 'not a host'],
]

describe('reference server: bad environment values', () => {
  for (const [name, value] of BAD) {
    it(`${name}=${value} exits 2 with a configuration error naming ${name}, no stack trace`, async () => {
      const server = startChild({ PORT: '0', [name]: value })
      // a server that accepted the value would listen; stop it so the test fails instead of hanging
      void server.listening.then(
        () => server.child.kill('SIGKILL'),
        () => {},
      )
      const code = await server.exited
      const stderr = server.stderr()
      assert.equal(code, 2, `exit code; stderr: ${stderr}`)
      assert.match(stderr, new RegExp(`configuration error: .*${name}`))
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace')
    })
  }

  it('a PORT already in use exits 2 naming PORT', async () => {
    const holder = net.createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const { port } = holder.address() as net.AddressInfo
    try {
      const server = startChild({ PORT: String(port) })
      const code = await server.exited
      assert.equal(code, 2, `exit code; stderr: ${server.stderr()}`)
      assert.match(server.stderr(), new RegExp(`configuration error: PORT ${port} is already in use`))
      assert.doesNotMatch(server.stderr(), /\n\s+at /, 'no stack trace')
    } finally {
      await new Promise((r) => holder.close(r))
    }
  })

  it('warns about a misspelt variable and still starts', async () => {
    const server = startChild({ PORT: '0', CACHE_DEFALT_TTL: '30' })
    try {
      await server.listening
      assert.match(server.stderr(), /warning: CACHE_DEFALT_TTL .*did you mean CACHE_DEFAULT_TTL/)
    } finally {
      server.child.kill('SIGKILL')
      await server.exited
    }
  })
})
