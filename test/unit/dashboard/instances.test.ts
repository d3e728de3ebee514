import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_BOUNDS, emptyRoute } from '../../../src/dashboard/frame-builder.js'
import { MAX_INSTANCES, RemoteInstances } from '../../../src/dashboard/instances.js'
import type { Frame } from '../../../src/dashboard/types.js'

function frame(instance: string, seq: number, n: number, total: number): Frame {
  const http = { ...emptyRoute(DEFAULT_BOUNDS.length + 1), total, inflight: 1, routes: {} }
  http.n = n
  http.b[0] = n
  return {
    seq,
    t: seq * 1000,
    dt: 1,
    instance,
    http,
    loop: { maxMs: 1, meanMs: 1, elu: 0.1 },
    mem: { heapUsed: 1, heapTotal: 2, rss: 3 },
    gc: { n: 0, ms: 0 },
    cache: {},
    shed: 0,
    rateLimited: 0,
    panels: {},
    ext: {},
  }
}

describe('other instances', () => {
  it('hands each tick the frames since the last one, merging two of one instance into one', () => {
    const r = new RemoteInstances(3000)
    r.add(frame('b', 1, 5, 5), 1000)
    r.add(frame('b', 2, 7, 12), 1900)
    r.add(frame('c', 1, 1, 1), 1900)
    const g = r.gather(2000, DEFAULT_BOUNDS)
    assert.deepEqual(
      g.frames.map((f) => [f.instance, f.http.n, f.dt]),
      [
        ['b', 12, 2],
        ['c', 1, 1],
      ],
    )
    assert.equal(g.deltas.length, 3, 'every frame counts once in the aggregate')
    assert.deepEqual(
      g.latest.map((f) => f.http.total),
      [12, 1],
    )
    const next = r.gather(2500, DEFAULT_BOUNDS)
    assert.deepEqual(next.frames, [], 'nothing new: no frame, but the instances are still live')
    assert.equal(next.latest.length, 2)
  })

  it('drops an instance silent for staleAfter, and holds at most MAX_INSTANCES', () => {
    const r = new RemoteInstances(1000)
    r.add(frame('b', 1, 1, 1), 0)
    assert.equal(r.gather(1500, DEFAULT_BOUNDS).latest.length, 0)
    for (let i = 0; i < MAX_INSTANCES + 10; i++) r.add(frame(`i${i}`, 1, 1, 1), 2000)
    assert.equal(r.gather(2000, DEFAULT_BOUNDS).latest.length, MAX_INSTANCES)
  })
})
