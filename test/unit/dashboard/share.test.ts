import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parse } from '../../../src/dashboard/share.js'

const frame = { instance: 'b', t: 1, http: { b: [0] } }

describe('messages between instances', () => {
  it('accepts frames, alerts and recommendations from another instance', () => {
    assert.equal(parse(JSON.stringify({ type: 'frame', instance: 'b', data: frame }))?.type, 'frame')
    assert.equal(parse(JSON.stringify({ type: 'alert', instance: 'b', data: { name: 'x' } }))?.type, 'alert')
    assert.equal(parse(JSON.stringify({ type: 'recs', instance: 'b', data: { items: [] } }))?.type, 'recs')
    assert.equal(
      parse(JSON.stringify({ type: 'table', instance: 'b', data: { id: 't', instance: 'b', rows: [] } }))
        ?.type,
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
    ])
      assert.equal(parse(m), undefined, m)
  })
})
