/**
 * The bus transport conformance suite: the same behaviours checked against every transport
 * (memory, Redis Streams, ...). A transport file calls `busConformance()` with a factory; each
 * test makes its own transports (one per simulated process) on fresh addresses and closes them.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import {
  type Bus,
  type BusOptions,
  createBus,
  type Envelope,
  NonRetryableError,
  type Transport,
} from '../../../src/bus/index.js'
import { isHotpathError } from '../../../src/errors.js'
import { constantBackoff } from '../../../src/resilience/index.js'
import type { PrivateServer } from '../../helpers/private-servers.js'

/** What a transport under test provides. */
export interface ConformanceTarget {
  /** A new transport (a new "process"); `claimIdle` in ms for durable ones. */
  make(options?: { claimIdle?: number }): Transport
  /** Messages survive the consumer: a crash test applies. */
  durable: boolean
  /** Simulates a consumer process dying (stop reading, never ack). */
  crash?(t: Transport): void
  /** Removes what the run left behind. */
  cleanup(): Promise<void>
  /** A private server that can be killed and started again, and transports on it: the reconnect test applies. */
  restart?: {
    server(): Promise<PrivateServer>
    make(url: string): Transport
  }
}

let n = 0
const unique = (name: string) => `${name}-${process.pid}-${++n}`

/** Polls `check` until it is true (or fails after `ms`). */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Registers the conformance tests for one transport. */
export function busConformance(name: string, target: ConformanceTarget): void {
  describe(`bus conformance: ${name}`, () => {
    const transports: Transport[] = []
    const buses: Bus[] = []
    const bus = (t: Transport, options: BusOptions) => {
      const b = createBus({ transport: t, ...options })
      buses.push(b)
      return b
    }
    const make = (options?: { claimIdle?: number }) => {
      const t = target.make(options)
      transports.push(t)
      return t
    }
    after(async () => {
      for (const b of buses) await b.close({ drain: false }).catch(() => {})
      for (const t of transports) await t.close().catch(() => {})
      await target.cleanup()
    })

    it('delivers a message to the handler of its type, payload intact', async () => {
      const t = make()
      const to = unique('deliver')
      const got: unknown[] = []
      const b = bus(t, { name: to })
      b.on('t', (p) => {
        got.push(p)
      })
      await b.whenReady()
      const a = bus(t, { name: unique('sender') })
      await a.send(to, 't', { n: 1, s: 'x', list: [1, 2] })
      await until(() => got.length === 1)
      assert.deepEqual(got, [{ n: 1, s: 'x', list: [1, 2] }])
    })

    it('request-reply returns the handler value; a failed handler rejects the request', async () => {
      const t = make()
      const to = unique('rpc')
      const b = bus(t, { name: to, retry: { attempts: 1 } })
      b.on('add', (p: { x: number; y: number }) => p.x + p.y)
      b.on('fail', () => {
        throw new NonRetryableError('nope')
      })
      await b.whenReady()
      const a = bus(t, { name: unique('client') })
      await a.whenReady()
      assert.equal(await a.request(to, 'add', { x: 2, y: 3 }, { timeout: 5000 }), 5)
      await assert.rejects(a.request(to, 'fail', null, { timeout: 5000 }), (e) =>
        isHotpathError(e, 'E_BUS_HANDLER'),
      )
    })

    it('keeps order within a class for one consumer with concurrency 1', async () => {
      const t = make()
      const to = unique('order')
      const a = bus(t, { name: unique('sender') })
      for (let i = 0; i < 50; i++) await a.send(to, 'seq', i)
      const got: number[] = []
      const b = bus(t, { name: to, concurrency: 1 })
      b.on('seq', (i: number) => {
        got.push(i)
      })
      await until(() => got.length === 50)
      assert.deepEqual(
        got,
        Array.from({ length: 50 }, (_, i) => i),
      )
    })

    it('at-least-once: a failing handler is retried until it succeeds', async () => {
      const t = make()
      const to = unique('retry')
      let calls = 0
      const done: number[] = []
      const b = bus(t, { name: to, retry: { attempts: 5, backoff: constantBackoff(20) } })
      b.on('flaky', (p: number, m) => {
        calls++
        if (m.attempt < 3) throw new Error('not yet')
        done.push(p)
      })
      await b.whenReady()
      await bus(t, { name: unique('sender') }).send(to, 'flaky', 7)
      await until(() => done.length === 1)
      assert.equal(calls, 3)
      assert.deepEqual(done, [7])
    })

    it('dead letters carry reason, attempts, last error and source id; replay resets attempts', async () => {
      const t = make()
      const to = unique('dlq')
      let healthy = false
      const done: string[] = []
      const b = bus(t, { name: to, retry: { attempts: 2, backoff: constantBackoff(10) } })
      b.on('job', (p: string, m) => {
        if (!healthy) throw new Error(`fail ${m.attempt}`)
        done.push(`${p}:${m.attempt}`)
      })
      await b.whenReady()
      const id = await bus(t, { name: unique('sender') }).send(to, 'job', 'j')
      let dead: Awaited<ReturnType<Bus['deadLetters']>> = []
      await until(async () => {
        dead = await b.deadLetters({ type: 'job' })
        return dead.length === 1
      })
      assert.equal(dead[0]?.id, id)
      assert.equal(dead[0]?.reason, 'failed')
      assert.equal(dead[0]?.attempts, 2)
      assert.equal(dead[0]?.error, 'fail 2')
      healthy = true
      assert.equal(await b.replay({ type: 'job' }), 1)
      await until(() => done.length === 1)
      assert.deepEqual(done, ['j:1'])
      assert.equal((await b.deadLetters({ type: 'job' })).length, 0)
    })

    it('producer dedup drops a second send with the same key; the processed-set skips a duplicate delivery', async () => {
      const t = make()
      const to = unique('dedup')
      const effects: string[] = []
      const b = bus(t, { name: to })
      b.on(
        'pay',
        (p: string) => {
          effects.push(p)
        },
        { idempotent: true },
      )
      await b.whenReady()
      const a = bus(t, { name: unique('sender') })
      const dk = unique('key')
      assert.equal(typeof (await a.send(to, 'pay', 'p1', { dedupKey: dk })), 'string')
      assert.equal(await a.send(to, 'pay', 'p1', { dedupKey: dk }), undefined)
      await until(() => effects.length === 1)
      // the same message delivered again (as after a crash before the ack)
      const now = Date.now()
      const env: Envelope = {
        id: 'dup',
        to,
        type: 'pay',
        payload: 'p1',
        p: 2,
        attempt: 2,
        sentAt: now,
        queuedAt: now,
        dedupKey: dk,
      }
      await t.publish(env, 'block')
      await until(() => b.stats().processedHits === 1)
      assert.deepEqual(effects, ['p1'])
    })

    it('priorities: a backlog is served 8/4/2/1 per round, and low is not starved', async () => {
      const t = make()
      const to = unique('prio')
      const a = bus(t, { name: unique('sender') })
      for (const p of ['low', 'normal', 'high', 'urgent'] as const) {
        for (let i = 0; i < 20; i++) await a.send(to, 'm', p, { priority: p })
      }
      const order: string[] = []
      const b = bus(t, { name: to, concurrency: 1 })
      await b.whenReady()
      await new Promise((r) => setTimeout(r, 100)) // let a durable transport read the backlog
      b.on('m', (p: string) => {
        order.push(p)
      })
      await until(() => order.length === 80)
      const first = order.slice(0, 15)
      const count = (c: string) => first.filter((x) => x === c).length
      assert.deepEqual([count('urgent'), count('high'), count('normal'), count('low')], [8, 4, 2, 1])
    })

    it('broadcast reaches each listening address once', async () => {
      const t = make()
      const got: string[] = []
      const names = [unique('bx'), unique('by')]
      for (const name of names) {
        const b = bus(t, { name })
        b.on('news', () => {
          got.push(name)
        })
        await b.whenReady()
      }
      await bus(t, { name: unique('bsender') }).broadcast('news', 1)
      await until(() => got.length >= 2)
      await new Promise((r) => setTimeout(r, 50))
      assert.deepEqual([...got].sort(), [...names].sort())
    })

    if (target.durable) {
      it('a consumer that dies holding messages loses none: another takes them over after claimIdle', async () => {
        const to = unique('crash')
        const dying = make({ claimIdle: 500 })
        const held: number[] = []
        const first = createBus({ transport: dying, name: to, concurrency: 10 })
        first.on('job', (i: number) => {
          held.push(i)
          return new Promise(() => {}) // never finishes: the process dies first
        })
        await first.whenReady()
        const a = bus(make(), { name: unique('sender') })
        for (let i = 0; i < 20; i++) await a.send(to, 'job', i)
        await until(() => held.length === 10)
        target.crash?.(dying)
        const done = new Set<number>()
        const survivor = bus(make({ claimIdle: 500 }), { name: to })
        survivor.on('job', (i: number) => {
          done.add(i)
        })
        await until(() => done.size === 20, 15_000, 'all 20 jobs after the crash')
        assert.equal(done.size, 20)
      })
    }

    const restart = target.restart
    if (restart) {
      it('reconnect: a server killed and restarted under load loses no sent message, and consuming resumes', {
        timeout: 60_000,
      }, async () => {
        const server = await restart.server()
        const to = unique('reconnect')
        const consumerT = restart.make(server.url)
        const senderT = restart.make(server.url)
        const consumer = createBus({ transport: consumerT, name: to, concurrency: 10 })
        const sender = createBus({ transport: senderT, name: unique('sender') })
        try {
          const done = new Set<number>()
          let gate: Promise<void> | undefined
          let open = () => {}
          let running = 0
          consumer.on('job', async (i: number) => {
            running++
            await gate
            running--
            done.add(i)
          })
          await consumer.whenReady()
          // every send that resolved must be handled; a send the outage made fail was not sent
          const sent: number[] = []
          let next = 0
          let sending = true
          const loop = (async () => {
            while (sending) {
              const batch = Array.from({ length: 5 }, () => next++)
              await Promise.all(
                batch.map((i) =>
                  sender.send(to, 'job', i).then(
                    () => sent.push(i),
                    () => {},
                  ),
                ),
              )
              await new Promise((r) => setTimeout(r, 5))
            }
          })()
          await until(() => done.size >= 50, 10_000, '50 jobs before the outage')
          // the consumer holds 10 running (unacked) messages and more wait in the stream
          gate = new Promise((r) => {
            open = r
          })
          await until(() => running === 10, 10_000, '10 jobs held by the consumer')
          const held = sent.length
          await until(() => sent.length >= held + 20, 10_000, 'a backlog')
          await server.stop()
          await new Promise((r) => setTimeout(r, 300))
          await server.start()
          open()
          const before = sent.length
          await until(() => sent.length >= before + 50, 30_000, '50 sends after the restart')
          sending = false
          await loop
          const lost = () => sent.filter((i) => !done.has(i))
          await until(() => lost().length === 0, 30_000, 'every sent job handled')
          assert.deepEqual(lost(), [])
          assert.ok(done.has(sent[sent.length - 1] as number), 'a job sent after the restart was handled')
        } finally {
          await server.close([consumer, sender], [consumerT, senderT])
        }
      })
    }
  })
}
