import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildServer } from '../../../src/server/app.js'
import { loadConfig } from '../../../src/server/config.js'
import { REDIS_URL } from '../../helpers/services.js'

describe('reference server with Redis', () => {
  it("reports its shared Redis client's commands, latency and state on /metrics", async () => {
    const server = await buildServer(
      loadConfig({ BACKEND_LATENCY_MS: '1', INVALIDATE_TOKEN: 'test-token-0123456789', REDIS_URL }),
    )
    try {
      await server.cache.get(`test:server-redis:${process.pid}`)
      server.monitor.collect()
      const text = (await server.app.inject('/metrics')).body
      assert.match(text, /^hotpath_redis_commands_total\{client="shared",command="\w+"\} [1-9]\d*$/m)
      assert.match(text, /^hotpath_redis_up\{client="shared"\} 1$/m)
      assert.match(
        text,
        /^hotpath_redis_command_duration_seconds_count\{client="shared",command="\w+"\} \d+$/m,
      )
    } finally {
      await server.close()
    }
  })
})
