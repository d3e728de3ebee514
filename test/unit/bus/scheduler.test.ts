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

  // The scheduler scans the class heads for ageing once per clock value and has each take or
  // push that exposes a new head check that head (unless the head is the same tenant's next
  // message and nothing was pushed out of order); this reference scans before every dispatch.
  it('ageing scanned once per clock tick dispatches in the same order as a scan before every dispatch', () => {
    // deliveries of old messages too (queuedAt before now), from three tenants or none
    const aged = compareWithReference({
      pushPct: 45,
      latePerMille: 1000,
      tenants: [undefined, 'a', 'b', 'c'],
    })
    assert.ok(aged > 100, `ageing was exercised (${aged})`)
  })

  it('the same with pushes in order and one tenant (the head check skipped), now and then a late one', () => {
    const aged = compareWithReference({
      pushPct: 52,
      latePerMille: 5,
      tenants: [undefined, undefined, undefined, 'a'],
    })
    assert.ok(aged > 100, `ageing was exercised (${aged})`)
  })
})

/**
 * Runs the scheduler and the reference side by side over 100,000 random steps (pushes of random
 * classes and tenants, dispatches, a clock that moves now and then); returns the aged dispatches.
 * `latePerMille` of the pushes are queued in the past (a redelivery); the others at `now`.
 */
function compareWithReference(o: {
  pushPct: number
  latePerMille: number
  tenants: Array<string | undefined>
}): number {
  const AGE = 5
  const weights = [8, 4, 2, 1]
  const s = new Scheduler(weights, AGE)
  const ref = new ReferenceScheduler(weights, AGE)
  let x = 12345
  const rand = (n: number) => {
    x = (x * 1103515245 + 12345) % 2 ** 31
    return Math.floor((x / 2 ** 31) * n)
  }
  let now = 100
  for (let step = 0; step < 100_000; step++) {
    if (rand(50) === 0) now++
    if (rand(100) < o.pushPct) {
      const onTime = o.latePerMille < 1000 && rand(1000) >= o.latePerMille
      const late = onTime ? 0 : rand(20) === 0 ? AGE + rand(AGE) : rand(AGE)
      const e = env(rand(4), now - late, o.tenants[rand(o.tenants.length)])
      s.push(e)
      ref.push(e)
    } else {
      const want = ref.next(now)
      assert.equal(s.next(now), want, `step ${step}`)
    }
  }
  assert.equal(s.aged, ref.aged)
  return s.aged
}

/** The scheduler's rules written plainly: the ageing scan runs before every dispatch. */
class ReferenceScheduler {
  private readonly classes = [0, 1, 2, 3].map(() => ({
    turn: [] as Array<{ q: Envelope[] }>,
    tenants: new Map<string, { q: Envelope[] }>(),
  }))
  private current = 0
  private credit: number
  aged = 0

  constructor(
    private readonly weights: number[],
    private readonly ageAfter: number,
  ) {
    this.credit = weights[0] as number
  }

  push(e: Envelope): void {
    const c = this.classes[e.p] as (typeof this.classes)[number]
    const key = e.tenant ?? ''
    let t = c.tenants.get(key)
    if (t === undefined) {
      t = { q: [] }
      c.tenants.set(key, t)
    }
    if (t.q.length === 0) c.turn.push(t)
    t.q.push(e)
  }

  private take(p: number): Envelope {
    const c = this.classes[p] as (typeof this.classes)[number]
    const t = c.turn.shift() as { q: Envelope[] }
    const e = t.q.shift() as Envelope
    if (t.q.length > 0) c.turn.push(t)
    return e
  }

  next(now: number): Envelope | undefined {
    if (this.classes.every((c) => c.turn.length === 0)) return undefined
    let best = -1
    let bestAt = now - this.ageAfter
    for (let p = 1; p < 4; p++) {
      const h = this.classes[p]?.turn[0]?.q[0]
      if (h !== undefined && h.queuedAt <= bestAt) {
        best = p
        bestAt = h.queuedAt
      }
    }
    if (best >= 0) {
      this.aged++
      return this.take(best)
    }
    for (;;) {
      if (this.credit > 0 && (this.classes[this.current]?.turn.length ?? 0) > 0) {
        this.credit--
        return this.take(this.current)
      }
      this.current = (this.current + 1) & 3
      this.credit = this.weights[this.current] as number
    }
  }
}
