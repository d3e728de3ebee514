import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Scheduler } from '../../../src/bus/scheduler.js'
import type { Envelope } from '../../../src/bus/types.js'

let seq = 0
const env = (p: number, queuedAt = 0, tenant?: string): Envelope => ({
  id: String(++seq),
  to: 'x',
  type: 't',
  payload: null,
  p,
  attempt: 1,
  sentAt: queuedAt,
  queuedAt,
  ...(tenant === undefined ? {} : { tenant }),
})

const NO_AGEING = Number.POSITIVE_INFINITY

describe('Scheduler (weighted round robin, tenants, ageing)', () => {
  it('with every class backlogged, serves 8/4/2/1 of each 15 dispatches', () => {
    const s = new Scheduler([8, 4, 2, 1], NO_AGEING)
    for (let i = 0; i < 1000; i++) for (let p = 0; p < 4; p++) s.push(env(p))
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 150; i++) {
      const p = (s.next(0) as Envelope).p
      counts[p] = (counts[p] ?? 0) + 1
    }
    assert.deepEqual(counts, [80, 40, 20, 10])
  })

  it('low is never starved by a saturating urgent class: its head goes within W - w_low = 14 dispatches', () => {
    const s = new Scheduler([8, 4, 2, 1], NO_AGEING)
    let worst = 0
    let sinceLowHead = 0
    // urgent always has 100 queued (arrivals at 100% of capacity); one low message at a time
    for (let i = 0; i < 100; i++) s.push(env(0))
    s.push(env(3))
    for (let d = 0; d < 30_000; d++) {
      const e = s.next(0) as Envelope
      if (e.p === 0) s.push(env(0))
      else {
        worst = Math.max(worst, sinceLowHead)
        sinceLowHead = 0
        s.push(env(3))
        continue
      }
      sinceLowHead++
    }
    assert.ok(worst <= 14, `low head waited ${worst} dispatches`)
    assert.ok(worst > 0)
  })

  it('a class that stays empty gives its share to the others (work conserving)', () => {
    const s = new Scheduler([8, 4, 2, 1], NO_AGEING)
    for (let i = 0; i < 30; i++) s.push(env(3))
    for (let i = 0; i < 30; i++) assert.equal((s.next(0) as Envelope).p, 3)
    assert.equal(s.next(0), undefined)
  })

  it('ageing: a head that waited ageAfter goes next, oldest first, whatever the round says', () => {
    const s = new Scheduler([100, 1, 1, 1], 1000)
    for (let i = 0; i < 50; i++) s.push(env(0, 5000))
    s.push(env(2, 3500))
    s.push(env(3, 3000))
    // at 4000 the low head waited 1000 (aged), normal 500 (not yet)
    assert.equal((s.next(4000) as Envelope).p, 3)
    assert.equal((s.next(4000) as Envelope).p, 0)
    assert.equal((s.next(4500) as Envelope).p, 2)
    assert.equal(s.aged, 2)
  })

  it('tenants inside a class are served round robin', () => {
    const s = new Scheduler([8, 4, 2, 1], NO_AGEING)
    for (let i = 0; i < 10; i++) s.push(env(2, 0, 'big'))
    s.push(env(2, 0, 'small'))
    const order = [s.next(0), s.next(0), s.next(0)].map((e) => e?.tenant)
    assert.deepEqual(order, ['big', 'small', 'big'])
  })

  it('shedBelow drops the newest message of the lowest class below the newcomer', () => {
    const s = new Scheduler([8, 4, 2, 1], NO_AGEING)
    const a = env(3)
    const b = env(3)
    s.push(env(1))
    s.push(a)
    s.push(b)
    assert.equal(s.shedBelow(0), b)
    assert.equal(s.shedBelow(3), undefined)
    assert.equal(s.size, 2)
  })
})
