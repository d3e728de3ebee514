import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parse } from '../../../src/dashboard/share.js'

// what another instance publishes, in full: every field is checked (share-check.ts)
const route = { n: 1, p50: 1, p95: 2, p99: 3, status: { '2xx': 1 }, b: [0, 1] }
const frame = {
  seq: 1,
  t: 1,
  dt: 1000,
  instance: 'b',
  http: { ...route, total: 1, inflight: 0, routes: { 'GET /x': route } },
  loop: { maxMs: 1, meanMs: 0.5, elu: 0.1 },
  mem: { heapUsed: 1, heapTotal: 2, rss: 3 },
  gc: { n: 0, ms: 0 },
  cache: { l1: { hits: 1, misses: 0 } },
  shed: 0,
  rateLimited: 0,
  panels: {},
  ext: {},
}
const alert = { name: 'x', state: 'firing', severity: 'warning', value: 2, at: 1, instance: 'b' }
const recs = {
  instance: 'b',
  at: 1,
  items: [{ id: 'r', severity: 'info', message: 'm', evidence: { n: 1 } }],
}

describe('messages between instances', () => {
  it('accepts frames, alerts and recommendations from another instance', () => {
    assert.equal(parse(JSON.stringify({ type: 'frame', instance: 'b', data: frame }))?.type, 'frame')
    assert.equal(parse(JSON.stringify({ type: 'alert', instance: 'b', data: alert }))?.type, 'alert')
    assert.equal(parse(JSON.stringify({ type: 'recs', instance: 'b', data: recs }))?.type, 'recs')
    assert.equal(
      parse(
        JSON.stringify({ type: 'table', instance: 'b', data: { id: 't', instance: 'b', at: 1, rows: [] } }),
      )?.type,
      'table',
    )
  })

  it('ignores anything else on the channel rather than breaking the view', () => {
    for (const m of [
      'not json',
      'null',
      JSON.stringify({ type: 'frame', instance: '*', data: frame }),
      JSON.stringify({ type: 'frame', instance: 'c', data: frame }),
      JSON.stringify({ type: 'frame', instance: 'b', data: { ...frame, http: {} } }),
      JSON.stringify({ type: 'nope', instance: 'b', data: {} }),
      JSON.stringify({ type: 'alert', instance: 7, data: {} }),
      JSON.stringify({ type: 'table', instance: 'b', data: { id: 't', instance: 'c', rows: [] } }),
      JSON.stringify({ type: 'table', instance: 'b', data: { id: 't', instance: 'b', rows: 'x' } }),
      // an alert or recommendations without their documented fields, or under another id
      JSON.stringify({ type: 'alert', instance: 'b', data: { name: 'x' } }),
      JSON.stringify({ type: 'alert', instance: 'b', data: { ...alert, instance: 'c' } }),
      JSON.stringify({ type: 'recs', instance: 'b', data: { items: [] } }),
      JSON.stringify({ type: 'frame', instance: 'b', data: { ...frame, seq: Number.NaN } }),
    ])
      assert.equal(parse(m), undefined, m)
  })
})
