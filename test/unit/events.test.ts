import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Events } from '../../src/events.js'

describe('Events', () => {
  it('delivers to listeners until disposed and reports whether anyone listens', () => {
    const ev = new Events<{ hit: { key: string } }>()
    assert.equal(ev.has('hit'), false)
    const seen: string[] = []
    const off = ev.on('hit', (p) => seen.push(p.key))
    assert.equal(ev.has('hit'), true)
    ev.emit('hit', { key: 'a' })
    off()
    off()
    ev.emit('hit', { key: 'b' })
    assert.deepEqual(seen, ['a'])
    assert.equal(ev.has('hit'), false)
  })
  it('keeps delivering when a listener throws', () => {
    const ev = new Events<{ x: number }>()
    const seen: number[] = []
    ev.on('x', () => {
      throw new Error('boom')
    })
    ev.on('x', (n) => seen.push(n))
    ev.emit('x', 1)
    assert.deepEqual(seen, [1])
  })
  it('rejects a listener that is not a function', () => {
    const ev = new Events<{ x: number }>()
    assert.throws(() => ev.on('x', 'nope' as never), TypeError)
  })
})
