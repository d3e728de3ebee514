import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig, unknownVariableWarnings } from '../../../src/server/config.js'

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
    assert.equal(loadConfig({}).cacheMaxBytes, 64 * 1024 * 1024)
    assert.equal(loadConfig({ CACHE_MAX_MB: '16' }).cacheMaxBytes, 16 * 1024 * 1024)
  })
  it('rejects bad values naming the variable and the value', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty' }), /PORT.*"eighty"/)
    assert.throws(() => loadConfig({ PORT: '70000' }), /PORT/)
    assert.throws(() => loadConfig({ REDIS_URL: 'localhost:6379' }), /REDIS_URL.*redis:\/\//)
    assert.throws(() => loadConfig({ CACHE_DEFAULT_TTL: 'soon' }), /CACHE_DEFAULT_TTL/)
    assert.throws(() => loadConfig({ CACHE_MAX_SIZE: '0' }), /CACHE_MAX_SIZE/)
    assert.throws(() => loadConfig({ CACHE_MAX_MB: '0' }), /CACHE_MAX_MB/)
    assert.throws(() => loadConfig({ CACHE_MAX_MB: 'lots' }), /CACHE_MAX_MB.*"lots"/)
    assert.throws(() => loadConfig({ ENABLE_COMPRESSION: 'maybe' }), /ENABLE_COMPRESSION.*"maybe"/)
    assert.throws(() => loadConfig({ INVALIDATE_TOKEN: 'short' }), /INVALIDATE_TOKEN/)
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL must start with postgres/)
    assert.throws(
      () => loadConfig({ METRICS_TOKEN: 'short' }),
      /METRICS_TOKEN must be at least 16 characters; received 5/,
    )
  })
  it('refuses the values that used to crash later with a stack trace, naming the variable', () => {
    assert.throws(
      () => loadConfig({ CACHE_DEFAULT_TTL: '0' }),
      /CACHE_DEFAULT_TTL must be greater than 0; received "0"/,
    )
    assert.throws(() => loadConfig({ CACHE_DEFAULT_TTL: '0s' }), /CACHE_DEFAULT_TTL/)
    assert.throws(
      () => loadConfig({ METRICS_COLLECTION_INTERVAL: 'abc' }),
      /METRICS_COLLECTION_INTERVAL.*"abc"/,
    )
    assert.throws(() => loadConfig({ METRICS_COLLECTION_INTERVAL: '0' }), /METRICS_COLLECTION_INTERVAL/)
    assert.throws(
      () => loadConfig({ PERFORMANCE_MONITORING_ENABLED: 'perhaps' }),
      /PERFORMANCE_MONITORING_ENABLED.*"perhaps"/,
    )
    assert.throws(() => loadConfig({ HOST: 'not a host' }), /HOST.*"not a host"/)
    assert.throws(() => loadConfig({ PORT: '1e3' }), /PORT/)
  })
  it('reads the monitor settings and host forms', () => {
    const c = loadConfig({
      PERFORMANCE_MONITORING_ENABLED: 'off',
      METRICS_COLLECTION_INTERVAL: '15',
      HOST: '::1',
    })
    assert.deepEqual(c.monitor, { enabled: false, collectInterval: 15_000 })
    assert.equal(c.host, '::1')
    assert.equal(loadConfig({ HOST: 'localhost' }).host, 'localhost')
    assert.equal(loadConfig({ HOST: '0.0.0.0' }).host, '0.0.0.0')
  })
  it('reads the connection limits (seconds or durations) and refuses zero', () => {
    const d = loadConfig({})
    assert.deepEqual(
      [d.requestTimeoutMs, d.connectionTimeoutMs, d.keepAliveTimeoutMs, d.maxConnections],
      [30_000, 60_000, 72_000, 4096],
    )
    const c = loadConfig({
      REQUEST_TIMEOUT: '5',
      CONNECTION_TIMEOUT: '2m',
      KEEP_ALIVE_TIMEOUT: '500ms',
      MAX_CONNECTIONS: '10',
    })
    assert.deepEqual(
      [c.requestTimeoutMs, c.connectionTimeoutMs, c.keepAliveTimeoutMs, c.maxConnections],
      [5000, 120_000, 500, 10],
    )
    assert.throws(() => loadConfig({ REQUEST_TIMEOUT: '0' }), /REQUEST_TIMEOUT must be greater than 0/)
    assert.throws(() => loadConfig({ KEEP_ALIVE_TIMEOUT: '30d' }), /KEEP_ALIVE_TIMEOUT/)
    assert.throws(() => loadConfig({ MAX_CONNECTIONS: '0' }), /MAX_CONNECTIONS/)
  })
  it('warns about misspelt variables and unknown HOTPATH_ ones, not about unrelated ones', () => {
    assert.deepEqual(unknownVariableWarnings({ PATH: '/bin', HOME: '/root', CACHE_MAX_SIZE: '5' }), [])
    const w = unknownVariableWarnings({ REDIS_ULR: 'redis://x', HOTPATH_MODE: 'x' })
    assert.equal(w.length, 2)
    assert.match(w[0] as string, /REDIS_ULR.*did you mean REDIS_URL/)
    assert.match(w[1] as string, /HOTPATH_MODE/)
  })
})
