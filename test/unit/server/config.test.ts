import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig } from '../../../src/server/config.js'

describe('server configuration', () => {
  it('has embedded defaults', () => {
    const c = loadConfig({})
    assert.equal(c.port, 3000)
    assert.equal(c.redisUrl, undefined)
    assert.equal(c.enableCompression, true)
    assert.equal(c.minCompressionSize, 1024)
  })
  it('reads every variable', () => {
    const c = loadConfig({
      PORT: '8080',
      REDIS_URL: 'redis://127.0.0.1:6379',
      CACHE_DEFAULT_TTL: '30',
      CACHE_MAX_SIZE: '500',
      ENABLE_COMPRESSION: 'false',
      MIN_COMPRESSION_SIZE: '2048',
    })
    assert.deepEqual(
      [c.port, c.redisUrl, c.cacheDefaultTtl, c.cacheMaxSize, c.enableCompression, c.minCompressionSize],
      [8080, 'redis://127.0.0.1:6379', 30_000, 500, false, 2048],
    )
    assert.equal(loadConfig({ CACHE_DEFAULT_TTL: '5m' }).cacheDefaultTtl, '5m')
  })
  it('rejects bad values naming the variable and the value', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty' }), /PORT.*"eighty"/)
    assert.throws(() => loadConfig({ PORT: '70000' }), /PORT/)
    assert.throws(() => loadConfig({ REDIS_URL: 'localhost:6379' }), /REDIS_URL.*redis:\/\//)
    assert.throws(() => loadConfig({ CACHE_DEFAULT_TTL: 'soon' }), /CACHE_DEFAULT_TTL/)
    assert.throws(() => loadConfig({ CACHE_MAX_SIZE: '0' }), /CACHE_MAX_SIZE/)
    assert.throws(() => loadConfig({ ENABLE_COMPRESSION: 'maybe' }), /ENABLE_COMPRESSION.*"maybe"/)
    assert.throws(() => loadConfig({ INVALIDATE_TOKEN: 'short' }), /INVALIDATE_TOKEN/)
  })
})
