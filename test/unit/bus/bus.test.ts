import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { z } from 'zod'
import { processedKeyOf } from '../../../src/bus/envelope.js'
import {
  type Bus,
  type BusOptions,
  createBus,
  type Message,
  memoryTransport,
  NonRetryableError,
} from '../../../src/bus/index.js'
import { isHotpathError } from '../../../src/errors.js'
import { createMonitor } from '../../../src/metrics/index.js'
import {
  circuitBreaker,
  consecutive,
  constantBackoff,
  createRateLimiter,
} from '../../../src/resilience/index.js'
import { FakeClock } from '../../../src/time.js'

function pair(options: Omit<BusOptions, 'name' | 'transport' | 'clock'> = {}) {
  const clock = new FakeClock()
  const transport = memoryTransport({ clock })
  const a = createBus({ name: 'a', transport, clock, ...options })
  const b = createBus({ name: 'b', transport, clock, ...options })
  return { clock, transport, a, b }
}

const closeAll = async (...buses: Bus[]) => {
  for (const bus of buses) await bus.close({ drain: false })
}

describe('bus (memory transport)', () => {
  it('send delivers to the handler of the type at the address, with the message metadata', async () => {
    const { clock, a, b } = pair()
    const got: Array<[unknown, string, string | undefined]> = []
    b.on('greet', (payload, m: Message) => {
      got.push([payload, m.type, m.from])
    })
    const id = await a.send('b', 'greet', { hi: 1 })
    assert.equal(typeof id, 'string')
    await clock.tick(0)
    assert.deepEqual(got, [[{ hi: 1 }, 'greet', 'a']])
    assert.equal(b.stats().handled, 1)
    await closeAll(a, b)
  })

  it('a message sent before the consumer exists waits for it', async () => {
    const clock = new FakeClock()
    const transport = memoryTransport({ clock })
    const a = createBus({ name: 'a', transport, clock })
    await a.send('late', 'x', 1)
    const late = createBus({ name: 'late', transport, clock })
    const got: unknown[] = []
    late.on('x', (p) => {
      got.push(p)
    })
    await late.whenReady()
    await clock.tick(0)
    assert.deepEqual(got, [1])
    await closeAll(a, late)
  })

  it('request resolves with the handler value; times out with E_TIMEOUT; aborts with E_ABORTED', async () => {
    const { clock, a, b } = pair()
    b.on('double', (n: number) => n * 2)
    b.on('never', () => new Promise(() => {}))
    assert.equal(await a.request('b', 'double', 21), 42)
    const slow = a.request('b', 'never', null, { timeout: 500 })
    const check = assert.rejects(slow, (e) => isHotpathError(e, 'E_TIMEOUT'))
    await clock.tick(500)
    await check
    const ac = new AbortController()
    const aborted = a.request('b', 'never', null, { signal: ac.signal })
    ac.abort()
    await assert.rejects(aborted, (e) => isHotpathError(e, 'E_ABORTED'))
    assert.equal(a.stats().pendingRequests, 0)
    await closeAll(a, b)
  })

  it('send rejects a priority that is not a class name (a name from Object.prototype too)', async () => {
    const { a, b } = pair()
    for (const priority of ['urgentest', 'toString', 'constructor']) {
      await assert.rejects(a.send('b', 'm', 1, { priority: priority as 'low' }), {
        name: 'TypeError',
        message: `priority must be one of urgent, high, normal, low; received ${priority}`,
      })
    }
    await closeAll(a, b)
  })

  it('request to a type with no handler rejects with E_BUS_NO_ROUTE and dead-letters the message', async () => {
    const { a, b } = pair()
    b.on('other', () => {})
    await assert.rejects(a.request('b', 'missing', 1), (e) => isHotpathError(e, 'E_BUS_NO_ROUTE'))
    const dead = await b.deadLetters({ reason: 'no-handler' })
    assert.equal(dead.length, 1)
    await closeAll(a, b)
  })

  it('broadcast reaches every address once; an address without the handler ignores it', async () => {
    const clock = new FakeClock()
    const transport = memoryTransport({ clock })
    const got: string[] = []
    const buses = ['x', 'y', 'z'].map((name) => createBus({ name, transport, clock }))
    buses[0]?.on('news', () => {
      got.push('x')
    })
    buses[1]?.on('news', () => {
      got.push('y')
    })
    await buses[0]?.broadcast('news', 1)
    await clock.tick(0)
    assert.deepEqual(got.sort(), ['x', 'y'])
    assert.equal((await buses[2]?.deadLetters())?.length, 0)
    await closeAll(...buses)
  })

  it('validates payloads with a Standard Schema: at send (rejects) and at the handler (dead letter "invalid")', async () => {
    const clock = new FakeClock()
    const transport = memoryTransport({ clock })
    const Order = z.object({ qty: z.number().int().positive() })
    const a = createBus({ name: 'a', transport, clock, schemas: { order: Order } })
    const b = createBus({ name: 'b', transport, clock })
    const got: unknown[] = []
    b.on('order', (p) => {
      got.push(p)
    })
    b.on('raw', () => {}, { schema: Order })
    await assert.rejects(a.send('b', 'order', { qty: -1 }), (e) => isHotpathError(e, 'E_BUS_INVALID'))
    await a.send('b', 'order', { qty: 2 })
    await a.send('b', 'raw', { qty: 'many' })
    await clock.tick(0)
    assert.deepEqual(got, [{ qty: 2 }])
    const dead = await b.deadLetters({ reason: 'invalid' })
    assert.equal(dead.length, 1)
    assert.match(dead[0]?.error ?? '', /qty/)
    await closeAll(a, b)
  })

  it('retries with the backoff, then dead-letters with reason, attempts, last error and source id; replay resets attempts', async () => {
    const { clock, a, b } = pair({ retry: { attempts: 3, backoff: constantBackoff(100) } })
    let calls = 0
    let healthy = false
    b.on('job', (_p, m) => {
      calls++
      if (!healthy) throw new Error(`boom ${m.attempt}`)
    })
    const id = await a.send('b', 'job', { n: 1 })
    await clock.tick(0)
    await clock.tick(100)
    await clock.tick(100)
    assert.equal(calls, 3)
    const [dead] = await b.deadLetters({ type: 'job' })
    assert.equal(dead?.id, id)
    assert.equal(dead?.reason, 'failed')
    assert.equal(dead?.attempts, 3)
    assert.equal(dead?.error, 'boom 3')
    assert.equal(dead?.envelope.from, 'a')
    assert.equal(b.stats().retries, 2)
    healthy = true
    assert.equal(await b.replay({ type: 'job' }, (m) => ({ ...m, payload: { n: 2 } })), 1)
    await clock.tick(0)
    assert.equal(calls, 4)
    assert.equal((await b.deadLetters()).length, 0)
    await closeAll(a, b)
  })

  it('a NonRetryableError goes to the dead letters at once', async () => {
    const { clock, a, b } = pair()
    let calls = 0
    b.on('job', () => {
      calls++
      throw new NonRetryableError('refused')
    })
    await a.send('b', 'job', 1)
    await clock.tick(0)
    assert.equal(calls, 1)
    assert.equal((await b.deadLetters({ reason: 'non-retryable' })).length, 1)
    await closeAll(a, b)
  })

  it('per-message timeout: a handler past it is aborted and the message retried, then dead-lettered "timeout"', async () => {
    const { clock, a, b } = pair({ retry: { attempts: 2, backoff: constantBackoff(10) } })
    let aborted = 0
    b.on('slow', (_p, _m, signal) => {
      signal?.addEventListener('abort', () => aborted++)
      return new Promise(() => {})
    })
    await a.send('b', 'slow', 1, { timeout: 50 })
    await clock.tick(50)
    await clock.tick(10)
    await clock.tick(50)
    assert.equal(aborted, 2)
    assert.equal((await b.deadLetters({ reason: 'timeout' })).length, 1)
    await closeAll(a, b)
  })

  it('the worker pool runs at most `concurrency` handlers at once', async () => {
    const { clock, a, b } = pair({ concurrency: 3 })
    let running = 0
    let peak = 0
    b.on('work', async () => {
      running++
      peak = Math.max(peak, running)
      await new Promise<void>((r) => clock.setTimeout(r, 10))
      running--
    })
    for (let i = 0; i < 20; i++) await a.send('b', 'work', i)
    for (let i = 0; i < 10; i++) await clock.tick(10)
    assert.equal(peak, 3)
    assert.equal(b.stats().handled, 20)
    await closeAll(a, b)
  })

  it('priorities: a backlog is served 8/4/2/1, urgent first within a round', async () => {
    const { clock, a, b } = pair({ concurrency: 1 })
    const order: string[] = []
    b.on('m', (p: string) => {
      order.push(p)
    })
    for (const p of ['low', 'normal', 'high', 'urgent'] as const) {
      for (let i = 0; i < 20; i++) void a.send('b', 'm', p, { priority: p })
    }
    await clock.tick(0)
    const first = order.slice(0, 15)
    const count = (c: string) => first.filter((x) => x === c).length
    assert.deepEqual([count('urgent'), count('high'), count('normal'), count('low')], [8, 4, 2, 1])
    assert.equal(order[0], 'urgent')
    await closeAll(a, b)
  })

  it('producer dedup: a second send with the same dedupKey inside the window is not sent', async () => {
    const { clock, a, b } = pair({ dedupWindow: 1000 })
    let calls = 0
    b.on('pay', () => {
      calls++
    })
    assert.equal(typeof (await a.send('b', 'pay', 1, { dedupKey: 'k1' })), 'string')
    assert.equal(await a.send('b', 'pay', 1, { dedupKey: 'k1' }), undefined)
    await clock.tick(1000)
    assert.equal(typeof (await a.send('b', 'pay', 1, { dedupKey: 'k1' })), 'string')
    await clock.tick(0)
    assert.equal(calls, 2)
    assert.equal(a.stats().dedupHits, 1)
    await closeAll(a, b)
  })

  it('consumer processed-set: a redelivered message already handled does not repeat its side effect', async () => {
    const { clock, a, b, transport } = pair()
    const effects: string[] = []
    b.on(
      'charge',
      (p: string) => {
        effects.push(p)
      },
      { idempotent: true },
    )
    await a.send('b', 'charge', 'c1', { dedupKey: 'order-1' })
    await clock.tick(0)
    // a redelivery of the same message (as after a crash between effect and ack)
    transport.retry(
      {
        id: 'x',
        to: 'b',
        type: 'charge',
        payload: 'c1',
        p: 2,
        attempt: 2,
        sentAt: 0,
        queuedAt: 0,
        dedupKey: 'order-1',
      },
      0,
    )
    await clock.tick(0)
    assert.deepEqual(effects, ['c1'])
    assert.equal(b.stats().processedHits, 1)
    await closeAll(a, b)
  })

  it('per-handler circuit breaker: while open, messages wait (no attempt spent) and run after it closes', async () => {
    const { clock, a, b } = pair({ retry: { attempts: 2, backoff: constantBackoff(10) } })
    let down = true
    const handled: number[] = []
    b.on(
      'call',
      (n: number) => {
        if (down) throw new Error('backend down')
        handled.push(n)
      },
      { breaker: circuitBreaker({ breaker: consecutive(2), halfOpenAfter: 1000, clock }) },
    )
    await a.send('b', 'call', 1)
    await a.send('b', 'call', 2)
    await clock.tick(0) // two failures open the breaker
    for (let i = 3; i <= 5; i++) await a.send('b', 'call', i)
    await clock.tick(10)
    await clock.tick(10)
    assert.ok(b.stats().deferred >= 3, `deferred ${b.stats().deferred}`)
    assert.equal((await b.deadLetters()).length, 0)
    down = false
    for (let i = 0; i < 6; i++) await clock.tick(500)
    assert.deepEqual(
      handled.sort((x, y) => x - y),
      [1, 2, 3, 4, 5],
    )
    await closeAll(a, b)
  })

  it('per-type rate limit: refused messages wait and run later, none is lost', async () => {
    const { clock, a, b } = pair()
    const handled: number[] = []
    b.on(
      'api',
      (n: number) => {
        handled.push(n)
      },
      { rateLimit: createRateLimiter({ limit: 2, window: 1000, clock }) },
    )
    for (let i = 0; i < 5; i++) await a.send('b', 'api', i)
    await clock.tick(0)
    assert.equal(handled.length, 2)
    for (let i = 0; i < 4; i++) await clock.tick(600)
    assert.equal(handled.length, 5)
    await closeAll(a, b)
  })

  it("backpressure: 'reject' throws E_BUS_FULL, 'shed' drops the lowest class to the dead letters, 'block' waits", async () => {
    const { clock, a, b } = pair({ maxQueued: 2, concurrency: 1 })
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    b.on('m', () => gate)
    void a.send('b', 'm', 1, { priority: 'low' })
    await clock.tick(0) // 1 runs, held by the gate
    for (const n of [2, 3]) void a.send('b', 'm', n, { priority: 'low' }) // 2 and 3 fill the queue
    await assert.rejects(a.send('b', 'm', 4, { backpressure: 'reject' }), (e) =>
      isHotpathError(e, 'E_BUS_FULL'),
    )
    await a.send('b', 'm', 5, { backpressure: 'shed', priority: 'urgent' })
    const shed = await b.deadLetters({ reason: 'shed' })
    assert.deepEqual(
      shed.map((d) => d.envelope.payload),
      [3],
    )
    await assert.rejects(a.send('b', 'm', 6, { backpressure: 'shed', priority: 'low' }), (e) =>
      isHotpathError(e, 'E_BUS_FULL'),
    )
    let sent = false
    void a.send('b', 'm', 7).then(() => {
      sent = true
    })
    await clock.tick(0)
    assert.equal(sent, false)
    release()
    await clock.tick(0)
    assert.equal(sent, true)
    assert.equal(b.stats().blocked, 1)
    await closeAll(a, b)
  })

  it('regression: stats().sent counted sends the transport refused (E_BUS_FULL)', async () => {
    const { clock, a, b } = pair({ maxQueued: 1, concurrency: 1 })
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    b.on('m', () => gate)
    const outcome = { ok: 0, full: 0 }
    const send = (n: number, bp?: 'reject' | 'shed' | 'block') =>
      a.send('b', 'm', n, { backpressure: bp, priority: 'low' }).then(
        () => void outcome.ok++,
        (e) => {
          assert.ok(isHotpathError(e, 'E_BUS_FULL'))
          outcome.full++
        },
      )
    await send(1)
    await clock.tick(0) // 1 runs, held by the gate
    await send(2) // fills the queue
    await send(3, 'reject')
    await send(4, 'shed') // nothing queued below 'low': refused too
    const blocked = send(5, 'block')
    release()
    await clock.tick(0)
    await blocked
    assert.deepEqual(outcome, { ok: 3, full: 2 })
    assert.equal(a.stats().sent, outcome.ok)
    await closeAll(a, b)
  })

  it("regression: a misspelt per-send backpressure ('rejct') was accepted and acted as 'block' (a full queue would make the send wait, not refuse)", async () => {
    const { clock, a, b } = pair({ maxQueued: 1 })
    b.on('x', () => new Promise<void>((r) => clock.setTimeout(r, 1000)))
    await a.send('b', 'x', 1)
    await assert.rejects(a.send('b', 'x', 2, { backpressure: 'rejct' as never }), /backpressure must be/)
    await assert.rejects(a.request('b', 'x', 3, { backpressure: 'drop' as never }), /backpressure must be/)
    assert.equal(b.stats().received, 1)
    await closeAll(a, b)
  })

  it('batch handlers by batchKey: flush on size and time, ack after success, partial failure per message', async () => {
    const { clock, a, b } = pair({ retry: { attempts: 2, backoff: constantBackoff(10) } })
    const batches: Array<[string, unknown[]]> = []
    b.onBatch(
      'row',
      (messages, batch) => {
        batches.push([batch.key, batch.payloads()])
        for (const m of messages) if (m.payload === 'bad') batch.fail(m, new NonRetryableError('bad row'))
      },
      { maxSize: 3, maxWait: 100 },
    )
    for (const p of ['a1', 'a2', 'bad']) await a.send('b', 'row', p, { batchKey: 'A' })
    await a.send('b', 'row', 'b1', { batchKey: 'B' })
    await clock.tick(0)
    assert.deepEqual(batches, [['A', ['a1', 'a2', 'bad']]])
    await clock.tick(100)
    assert.deepEqual(batches[1], ['B', ['b1']])
    const dead = await b.deadLetters()
    assert.deepEqual(
      dead.map((d) => [d.envelope.payload, d.reason]),
      [['bad', 'non-retryable']],
    )
    assert.equal(b.stats().handled, 3)
    assert.equal(b.stats().batches, 2)
    await closeAll(a, b)
  })

  it('regression: an idempotent batch writes its processed marks before the next batch starts (a kill repeated two batches)', async () => {
    const { clock, a, b, transport } = pair()
    const marked = new Set<string>()
    const markProcessed = transport.markProcessed.bind(transport)
    // a slow processed-set (a KV put over the network): each mark lands 20 ms after it was asked for
    transport.markProcessed = async (key, windowMs) => {
      await new Promise<void>((r) => clock.setTimeout(r, 20))
      await markProcessed(key, windowMs)
      marked.add(key)
    }
    const unmarkedAtStart: number[] = []
    const seen: string[] = []
    b.onBatch(
      'job',
      (messages) => {
        // every message of the batches before this one must be marked by now
        unmarkedAtStart.push(seen.filter((k) => !marked.has(k)).length)
        for (const m of messages) seen.push(processedKeyOf(m))
      },
      { maxSize: 2, maxWait: 5, idempotent: true },
    )
    for (let i = 0; i < 6; i++) await a.send('b', 'job', i, { dedupKey: `job-${i}` })
    for (let i = 0; i < 20; i++) await clock.tick(10)
    assert.equal(seen.length, 6)
    assert.deepEqual(unmarkedAtStart, [0, 0, 0])
    assert.equal(marked.size, 6)
    assert.equal(b.stats().handled, 6)
    await closeAll(a, b)
  })

  it('close() drains queued and running messages, then refuses sends with E_CLOSED', async () => {
    const { clock, a, b } = pair({ concurrency: 1 })
    const done: number[] = []
    b.on('w', async (n: number) => {
      await new Promise<void>((r) => clock.setTimeout(r, 10))
      done.push(n)
    })
    for (let i = 0; i < 3; i++) await a.send('b', 'w', i)
    const closing = b.close()
    for (let i = 0; i < 5; i++) await clock.tick(10)
    await closing
    assert.deepEqual(done, [0, 1, 2])
    await assert.rejects(b.send('a', 'x', 1), (e) => isHotpathError(e, 'E_CLOSED'))
    await closeAll(a)
  })

  it('regression: close() with a bad timeout or a misspelt option left the bus half closed (refusing sends, still consuming, never closable)', async () => {
    const { a, b } = pair()
    const seen: number[] = []
    b.on('n', (n: number) => {
      seen.push(n)
    })
    await assert.rejects(b.close({ timeout: 'forever' as never }), /close timeout must look like/)
    await assert.rejects(b.close({ drian: false } as never), /unknown option "drian".*"drain"/)
    // still open: it sends, and a proper close() closes it
    assert.equal(typeof (await b.send('b', 'n', 1)), 'string')
    await b.drain()
    assert.deepEqual(seen, [1])
    await b.close()
    await assert.rejects(b.send('a', 'x', 1), (e) => isHotpathError(e, 'E_CLOSED'))
    await closeAll(a)
  })

  it('regression: on()/onBatch() on a closed bus, or for an empty type, registered a handler that could never run', async () => {
    const { a, b } = pair()
    assert.throws(() => b.on('', () => {}), /type must be a non-empty string/)
    assert.throws(() => b.onBatch(undefined as never, () => {}), /type must be a non-empty string/)
    await b.close()
    assert.throws(
      () => b.on('late', () => {}),
      (e) => isHotpathError(e, 'E_CLOSED'),
    )
    assert.throws(
      () => b.onBatch('late', () => {}),
      (e) => isHotpathError(e, 'E_CLOSED'),
    )
    await closeAll(a)
  })

  it('reports into a monitor: depth per class, handled, dead letters', async () => {
    const clock = new FakeClock()
    const transport = memoryTransport({ clock })
    const monitor = createMonitor({ runtime: false })
    const b = createBus({ name: 'metered', transport, clock, monitor })
    b.on('x', () => {
      throw new NonRetryableError('no')
    })
    await b.send('metered', 'x', 1)
    await clock.tick(0)
    monitor.collect()
    const text = await monitor.metrics()
    assert.match(text, /hotpath_bus_dead_lettered_total\{bus="metered"\} 1/)
    assert.match(text, /hotpath_bus_queue_depth\{bus="metered",class="low"\} 0/)
    assert.match(text, /hotpath_bus_max_wait_seconds\{bus="metered",class="normal"\} 0/)
    await b.close()
    monitor.close()
  })

  it('refuses unknown and invalid options, naming them', async () => {
    const transport = memoryTransport()
    assert.throws(
      () => createBus({ transport, concurrancy: 2 } as never),
      /unknown option "concurrancy".*"concurrency"/,
    )
    assert.throws(
      () => createBus({ transport, weights: { urgent: 0 } }),
      /weights.urgent must be an integer >= 1/,
    )
    assert.throws(() => createBus({ transport, backpressure: 'drop' } as never), /backpressure must be/)
    assert.throws(() => createBus({ transport, name: 'a b' }), /name must be/)
    const bus = createBus({ transport, name: 'opts' })
    assert.throws(() => bus.on('t', () => {}, { timout: 5 } as never), /unknown option "timout".*"timeout"/)
    await assert.rejects(bus.send('x', '', 1), /type must be/)
    void bus.close()
  })

  it('async handlers use every concurrency slot (workers started only while queued > running: about half)', async () => {
    const { a, b } = pair({ concurrency: 10 })
    let started = 0
    const release: Array<() => void> = []
    b.on('slow', () => {
      started++
      return new Promise<void>((r) => release.push(r))
    })
    for (let i = 0; i < 8; i++) void a.send('b', 'slow', i)
    await new Promise((r) => setImmediate(r))
    assert.equal(started, 8)
    for (const r of release) r()
    await closeAll(a, b)
  })
})
