/**
 * The WebSocket bench's latency figures (issue 14's proof, W2 and W4): added latency at 5,000
 * msgs/s per connection, the 100 ms window, and urgent messages while normal traffic batches.
 * Latency is measured from the `send()` call (the timestamp the message carries, taken just
 * before the call) to the TCP chunk holding it reaching the client process (bench/ws-clients.ts),
 * on one machine clock. Ours and the peer share each run, on alternate connections (`paired`).
 */
import os from 'node:os'
import type { WebSocket } from 'ws'
import { type BatchedOptions, wsCounters } from '../src/ws/index.js'
import { report } from './lib/harness.js'
import {
  type Collected,
  type Latency,
  median,
  ms,
  openLoop,
  ours,
  percentile,
  plain,
  type Rig,
  type Sender,
} from './ws-driver.js'

const SUITE = 'ws'
const range = (xs: number[]) => `${ms(Math.min(...xs))}-${ms(Math.max(...xs))}`
const load = () => os.loadavg()[0]?.toFixed(1)
const list = (xs: number[]) => xs.map(ms).join('/')

/** One paired run: ours and the peer on alternate connections, at the same moments. */
interface PairedRun extends Collected {
  /** Frames and messages ours wrote (the batcher name's counters over the run). */
  ours: { frames: number; messages: number }
  /** p50/p99 of the urgent send() calls themselves (ms), ours and the peer's. */
  call: { ours: Latency; peer: Latency }
}

interface Paired {
  options: BatchedOptions & { name: string }
  rate: number
  seconds: number
  rounds: number
  urgentEveryMs?: number
}

/**
 * Paired runs: in each, half the connections are ours and half the peer's (one
 * `ws.send(JSON.stringify(m))` per message), alternating, swapped every round. Both sides live
 * through the same moments of this shared 2-core machine, where a scheduling stall of either
 * process delays every message in flight, so one run's p99 on one side alone measures the
 * machine more than the library.
 */
async function paired(rig: Rig, sockets: WebSocket[], o: Paired): Promise<PairedRun[]> {
  const runs: PairedRun[] = []
  const counters = wsCounters(undefined, o.options.name)
  for (let round = 0; round < o.rounds; round++) {
    const isPeer = (c: number) => (c + round) % 2 === 1
    const senders = sockets.map((s, c) => (isPeer(c) ? plain([s]) : ours([s], o.options))[0] as Sender)
    const calls = { ours: [] as number[], peer: [] as number[] }
    await rig.reset()
    const before = counters.stats()
    const total = await openLoop(senders, {
      rate: o.rate,
      seconds: o.seconds,
      isPeer,
      ...(o.urgentEveryMs === undefined
        ? {}
        : {
            urgentEveryMs: o.urgentEveryMs,
            onUrgentCall: (c: number, t: number) => (isPeer(c) ? calls.peer : calls.ours).push(t),
          }),
    })
    const c = await rig.collect(total, 30_000)
    const after = counters.stats()
    runs.push({
      ...c,
      ours: { frames: after.frames - before.frames, messages: after.messages - before.messages },
      call: { ours: summarize(calls.ours), peer: summarize(calls.peer) },
    })
  }
  return runs
}

function summarize(xs: number[]): Latency {
  return { p50: percentile(xs, 50), p99: percentile(xs, 99), n: xs.length }
}

const med = (runs: PairedRun[], read: (u: PairedRun) => number) => ms(median(runs.map(read)))

/**
 * W2: sends saved and added latency at 5,000 msgs/s per connection (default settings); p99 with
 * a fixed 100 ms window. Paired (see `paired`); the peer writes one frame per message.
 */
export async function latency(rig: Rig, sockets: WebSocket[]): Promise<void> {
  const loadBefore = load()
  const fast = await paired(rig, sockets, {
    options: { name: 'bench-latency' },
    rate: 5000,
    seconds: 2,
    rounds: 5,
  })
  const frames = fast.reduce((n, r) => n + r.ours.frames, 0)
  const messages = fast.reduce((n, r) => n + r.ours.messages, 0)
  const peerMessages = fast.reduce((n, r) => n + r.peerNormal.n, 0)
  report({
    suite: SUITE,
    name: 'socket writes per message at 5,000 msgs/s per connection (paired, 5 x 2 s)',
    ours: frames / messages,
    peer: 1,
    peerName: 'ws.send',
    unit: 'writes/msg',
    higherIsBetter: false,
    target: '>= 70% fewer (ratio >= 3.33x)',
    note: `${((1 - frames / messages) * 100).toFixed(1)}% of sends saved: ${frames} frames for ${messages} messages; ws: ${peerMessages} messages, as many frames`,
  })
  const added = fast.map((r) => r.normal.p99 - r.peerNormal.p99)
  report({
    suite: SUITE,
    name: 'p99 latency at 5,000 msgs/s per connection (paired, median of 5 x 2 s)',
    ours: med(fast, (r) => r.normal.p99),
    peer: med(fast, (r) => r.peerNormal.p99),
    peerName: 'ws.send',
    unit: 'ms',
    higherIsBetter: false,
    target: 'added <= 2 ms',
    note: `added (per round, median) ${ms(median(added))} ms, range ${range(added)}; p99 per round ours ${list(fast.map((r) => r.normal.p99))}, ws ${list(fast.map((r) => r.peerNormal.p99))} ms; load average ${loadBefore}-${load()}`,
  })
  const slow = await paired(rig, sockets, {
    options: { name: 'bench-window', window: '100ms', maxBatch: 50 },
    rate: 100,
    seconds: 3,
    rounds: 3,
  })
  const addedSlow = slow.map((r) => r.normal.p99 - r.peerNormal.p99)
  const saved = slow.reduce((n, r) => n + r.ours.frames, 0) / slow.reduce((n, r) => n + r.ours.messages, 0)
  report({
    suite: SUITE,
    name: "p99 latency with window '100ms', maxBatch 50 (100 msgs/s per connection; paired, median of 3 x 3 s)",
    ours: med(slow, (r) => r.normal.p99),
    peer: med(slow, (r) => r.peerNormal.p99),
    peerName: 'ws.send',
    unit: 'ms',
    higherIsBetter: false,
    target: 'added <= 105 ms',
    note: `added (per round, median) ${ms(median(addedSlow))} ms, range ${range(addedSlow)}; ${((1 - saved) * 100).toFixed(1)}% of sends saved; load average ${load()}`,
  })
}

/**
 * W4: urgent messages (priority 10, 50/s per connection) while 1,000 msgs/s per connection batch
 * at '100ms'; paired (see `paired`), the peer sending everything directly. Each connection's
 * urgent messages are at their own phase of the 20 ms period: an independent event each, alone
 * in its timer tick (the old schedule sent all ten in one tick, so one hiccup delayed ten
 * samples at once and the p99 of 1,000 samples was the p90 of 100 events).
 */
export async function urgent(rig: Rig, sockets: WebSocket[], rounds = 7): Promise<void> {
  const loadBefore = load()
  const runs = await paired(rig, sockets, {
    options: { name: 'bench-urgent', window: '100ms', maxBatch: 50 },
    rate: 1000,
    seconds: 3,
    rounds,
    urgentEveryMs: 20,
  })
  const us = (read: (u: PairedRun) => number) => Math.round(median(runs.map(read)) * 1000)
  const wins = runs.filter((r) => r.urgent.p99 <= r.peerUrgent.p99).length
  const added = runs.map((r) => r.urgent.p99 - r.peerUrgent.p99)
  report({
    suite: SUITE,
    name: `urgent p99, send() to the client (priority 10, 50/s per connection) while 1,000 msgs/s per connection batch at '100ms' (paired, median of ${rounds} x 3 s)`,
    ours: med(runs, (r) => r.urgent.p99),
    peer: med(runs, (r) => r.peerUrgent.p99),
    peerName: 'ws.send (everything direct, same moments)',
    unit: 'ms',
    higherIsBetter: false,
    target: '<= 1 ms',
    note:
      `p99 per round ours ${list(runs.map((r) => r.urgent.p99))}, ws ${list(runs.map((r) => r.peerUrgent.p99))} ms (ours <= ws in ${wins} of ${rounds}; ours - ws per round, median ${ms(median(added))} ms); ` +
      `p50 ours ${med(runs, (r) => r.urgent.p50)}, ws ${med(runs, (r) => r.peerUrgent.p50)} ms; ` +
      `to the handler (after decoding) p99 ours ${med(runs, (r) => r.urgentHandled.p99)}, ws ${med(runs, (r) => r.peerUrgentHandled.p99)} ms; ` +
      `the send() call p50/p99 ours ${us((r) => r.call.ours.p50)}/${us((r) => r.call.ours.p99)} us, ` +
      `ws ${us((r) => r.call.peer.p50)}/${us((r) => r.call.peer.p99)} us; ` +
      `normal p50 ours ${med(runs, (r) => r.normal.p50)} ms; load average ${loadBefore}-${load()}`,
  })
}
