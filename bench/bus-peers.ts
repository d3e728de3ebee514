/**
 * The bus bench's peers, measured in the same run: BullMQ (worker, addBulk, priorities,
 * waitUntilFinished), p-queue (in-process, with and without priorities) and NATS core request.
 */
import { performance } from 'node:perf_hooks'
import { Queue, QueueEvents, Worker } from 'bullmq'
import { connect } from 'nats'
import PQueue from 'p-queue'
import { startPacer } from '../src/loadtest/pacer.js'

/** ioredis-style connection options for BullMQ from a URL. */
export function bullConnection(url: string): { host: string; port: number; maxRetriesPerRequest: null } {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null }
}

/** BullMQ addBulk(50): jobs/s. */
export async function bullAddBulk(url: string, prefix: string, n: number): Promise<number> {
  const q = new Queue('bench', { connection: bullConnection(url), prefix })
  const t0 = performance.now()
  for (let i = 0; i < n; i += 50) {
    await q.addBulk(Array.from({ length: 50 }, (_, j) => ({ name: 'j', data: { i: i + j } })))
  }
  const rate = (n / (performance.now() - t0)) * 1000
  await q.close()
  return rate
}

/** BullMQ Worker(concurrency 100) draining `n` jobs already queued: jobs/s. */
export async function bullWorker(url: string, prefix: string, n: number): Promise<number> {
  let done = 0
  let t0 = 0
  let resolve!: () => void
  const finished = new Promise<void>((r) => {
    resolve = r
  })
  const w = new Worker(
    'bench',
    async () => {
      if (t0 === 0) t0 = performance.now()
    },
    { connection: bullConnection(url), prefix, concurrency: 100 },
  )
  w.on('completed', () => {
    if (++done === n) resolve()
  })
  await finished
  const rate = (n / (performance.now() - t0)) * 1000
  await w.close()
  return rate
}

/** BullMQ strict priority under saturation: low (priority 4) jobs completed while urgent (1) keeps the queue full. */
export async function bullStarvation(
  url: string,
  prefix: string,
  ms: number,
): Promise<{ urgent: number; low: number }> {
  const q = new Queue('starve', { connection: bullConnection(url), prefix })
  const counts = { urgent: 0, low: 0 }
  let stop = false
  const w = new Worker(
    'starve',
    async (job) => {
      if (job.data.c === 'u') {
        counts.urgent++
        if (!stop) await q.add('u', { c: 'u' }, { priority: 1 })
      } else counts.low++
    },
    { connection: bullConnection(url), prefix, concurrency: 1 },
  )
  await q.addBulk(Array.from({ length: 50 }, () => ({ name: 'u', data: { c: 'u' }, opts: { priority: 1 } })))
  const lowTimer = setInterval(() => void q.add('l', { c: 'l' }, { priority: 4 }), 20)
  await new Promise((r) => setTimeout(r, ms))
  stop = true
  clearInterval(lowTimer)
  await w.close(true)
  await q.obliterate({ force: true }).catch(() => {})
  await q.close()
  return counts
}

/** BullMQ request-reply: add + waitUntilFinished at `rate`/s for `ms`: latencies in ms. */
export async function bullRequestReply(
  url: string,
  prefix: string,
  rate: number,
  ms: number,
): Promise<number[]> {
  const q = new Queue('rr', { connection: bullConnection(url), prefix })
  const events = new QueueEvents('rr', { connection: bullConnection(url), prefix })
  await events.waitUntilReady()
  const w = new Worker('rr', async (job) => job.data.x * 2, {
    connection: bullConnection(url),
    prefix,
    concurrency: 100,
  })
  const { lat } = await openLoop(rate, ms, async () => {
    const job = await q.add('r', { x: 1 })
    await job.waitUntilFinished(events, 10_000)
  })
  await w.close()
  await events.close()
  await q.close()
  return lat
}

/** NATS core request-reply at `rate`/s for `ms`: latencies in ms. */
export async function natsRequestReply(servers: string, rate: number, ms: number): Promise<number[]> {
  const nc = await connect({ servers })
  const subject = `bench.rr.${process.pid}`
  nc.subscribe(subject, { callback: (_err, m) => m.respond(m.data) })
  await nc.flush()
  const payload = new TextEncoder().encode(JSON.stringify({ x: 1 }))
  const { lat } = await openLoop(rate, ms, async () => {
    await nc.request(subject, payload, { timeout: 10_000 })
  })
  await nc.drain()
  return lat
}

/** Unrecorded warm-up of each open-model run (ms). */
const WARM_MS = 1000

/** Latencies of an open-model run, and how late the driver itself started each call. */
export interface OpenLoopResult {
  /** From each call's intended start to its answer (ms; Infinity for a failure). */
  lat: number[]
  /** From each call's intended start to when it was made (ms): the driver's own lateness. */
  lag: number[]
}

/**
 * Open-model load: starts `op` at `rate`/s for `ms` whatever the previous ones do, and measures
 * each from its intended start (no coordinated omission). The wake-ups come from the load
 * tester's pacer thread (src/loadtest/pacer.ts, about 0.1 ms late), not from Node's timers:
 * with a timer per call, at 1,000/s calls left up to 1 ms late and in pairs, which added the
 * same 0.3-1 ms to every peer's figures (driver lag p50 0.25-0.5 ms, p90 1 ms, measured).
 *
 * The first `warmMs` run at the same rate unrecorded, for every system alike: a cold first second
 * (the JIT compiling the system's request path, its first scavenges) showed in whichever ran
 * first, and its p99 with it.
 */
export async function openLoop(
  rate: number,
  ms: number,
  op: () => Promise<unknown>,
  warmMs = WARM_MS,
): Promise<OpenLoopResult> {
  if (warmMs > 0) await openLoop(rate, warmMs, op, 0)
  const lat: number[] = []
  const lag: number[] = []
  const total = Math.floor((rate * ms) / 1000)
  const inflight: Promise<unknown>[] = []
  const origin = performance.timeOrigin
  let start = 0
  let i = 0
  let finish!: () => void
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  const fire = (): void => {
    const now = performance.now()
    for (; i < total; i++) {
      const due = start + (i * 1000) / rate
      if (due > now) break
      lag.push(performance.now() - due)
      inflight.push(
        op().then(
          () => lat.push(performance.now() - due),
          () => lat.push(Number.POSITIVE_INFINITY),
        ),
      )
    }
    if (i >= total) finish()
    else wakeAt(start + (i * 1000) / rate)
  }
  // if the thread dies, Node's timer carries on (1 ms granularity)
  let failed = false
  const wakeAt = (at: number): void => {
    if (failed) setTimeout(fire, Math.max(0, at - performance.now()))
    else pacer.arm(origin + at)
  }
  const pacer = await startPacer({
    onWake: fire,
    onFail: () => {
      failed = true
      fire()
    },
  })
  try {
    start = performance.now() + 5
    wakeAt(start)
    await finished
  } finally {
    await pacer.close()
  }
  await Promise.all(inflight)
  return { lat, lag }
}

/** p-queue concurrency 100: `n` no-op tasks, with 4 priorities or none: tasks/s. */
export async function pQueueRate(n: number, priorities: boolean): Promise<number> {
  const q = new PQueue({ concurrency: 100 })
  const task = async () => {}
  const t0 = performance.now()
  for (let i = 0; i < n; i++) void q.add(task, priorities ? { priority: i & 3 } : undefined)
  await q.onIdle()
  return (n / (performance.now() - t0)) * 1000
}

/** The p-th percentile of `xs`. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number
}
