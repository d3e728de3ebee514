/**
 * The WebSocket bench's latency figures (issue 14's proof, W2 and W4): added latency at 5,000
 * msgs/s per connection, the 100 ms window, and urgent messages while normal traffic batches.
 * Latency is measured from the `send()` call (the timestamp the message carries, taken just
 * before the call) to the TCP chunk holding it reaching the client process (bench/ws-clients.ts),
 * on one machine clock. Ours and the peer alternate in rounds in the same run.
 */
import os from 'node:os'
import type { WebSocket } from 'ws'
import { report } from './lib/harness.js'
import {
  alternate,
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
const p99s = (runs: Collected[], kind: 'normal' | 'urgent') => runs.map((r) => r[kind].p99)
const range = (xs: number[]) => `${ms(Math.min(...xs))}-${ms(Math.max(...xs))}`
const load = () => os.loadavg()[0]?.toFixed(1)

/** W2: sends saved and added latency at 5,000 msgs/s per connection; the 100 ms window. */
export async function latency(rig: Rig, sockets: WebSocket[]): Promise<void> {
  const run = async (senders: Sender[], rate: number, seconds: number): Promise<Collected> => {
    await rig.reset()
    const total = await openLoop(senders, { rate, seconds })
    return rig.collect(total, 30_000)
  }
  const fast = await alternate(
    3,
    () => run(plain(sockets), 5000, 2),
    () => run(ours(sockets, { name: 'bench-latency' }), 5000, 2),
  )
  const frames = (runs: Collected[]) => runs.reduce((n, r) => n + r.frames, 0)
  const messages = (runs: Collected[]) => runs.reduce((n, r) => n + r.messages, 0)
  report({
    suite: SUITE,
    name: 'socket writes at 5,000 msgs/s per connection (10 connections, 3 x 2 s)',
    ours: frames(fast.ours),
    peer: frames(fast.direct),
    peerName: 'ws.send',
    unit: 'writes',
    higherIsBetter: false,
    target: '>= 70% fewer (ratio >= 3.33x)',
    note: `${((1 - frames(fast.ours) / messages(fast.ours)) * 100).toFixed(1)}% of sends saved; ${messages(fast.ours)}/${messages(fast.direct)} delivered`,
  })
  const oursP99 = median(p99s(fast.ours, 'normal'))
  const directP99 = median(p99s(fast.direct, 'normal'))
  report({
    suite: SUITE,
    name: 'p99 latency at 5,000 msgs/s per connection (median of 3)',
    ours: ms(oursP99),
    peer: ms(directP99),
    peerName: 'ws.send',
    unit: 'ms',
    higherIsBetter: false,
    target: 'added <= 2 ms',
    note: `added ${ms(oursP99 - directP99)} ms; p99 ours ${range(p99s(fast.ours, 'normal'))}, ws ${range(p99s(fast.direct, 'normal'))} ms; load average ${load()}`,
  })
  const slow = await alternate(
    1,
    () => run(plain(sockets), 100, 3),
    () => run(ours(sockets, { name: 'bench-window', window: '100ms', maxBatch: 50 }), 100, 3),
  )
  const windowed = slow.ours[0] as Collected
  const slowDirect = slow.direct[0] as Collected
  report({
    suite: SUITE,
    name: "p99 latency with window '100ms' (100 msgs/s per connection)",
    ours: ms(windowed.normal.p99),
    peer: ms(slowDirect.normal.p99),
    peerName: 'ws.send',
    unit: 'ms',
    higherIsBetter: false,
    target: 'added <= 105 ms',
    note: `added ${ms(windowed.normal.p99 - slowDirect.normal.p99)} ms; ${((1 - windowed.frames / windowed.messages) * 100).toFixed(1)}% of sends saved`,
  })
}

/** One paired urgent run: ours and the peer on alternate connections, at the same moments. */
interface UrgentRun extends Collected {
  /** p50/p99 of the urgent send() calls themselves (ms), ours and the peer's. */
  call: { ours: Latency; peer: Latency }
}

/**
 * W4: urgent messages (priority 10, 50/s per connection) while 1,000 msgs/s per connection batch
 * at '100ms'. Paired: in each run half the connections are ours (batching) and half are the
 * peer's (everything sent directly), alternating, swapped every round; so both sides live
 * through the same moments of this shared machine, where a scheduling stall of either process
 * delays every message in flight and a single 3 s run's p99 measures the machine. Each
 * connection's urgent messages are at their own phase of the 20 ms period: an independent event
 * each, alone in its timer tick (the old schedule sent all ten in one tick, so one hiccup delayed
 * ten samples at once and the p99 of 1,000 samples was the p90 of 100 events).
 */
export async function urgent(rig: Rig, sockets: WebSocket[], rounds = 7): Promise<void> {
  const windowed = { name: 'bench-urgent', window: '100ms', maxBatch: 50 } as const
  const runs: UrgentRun[] = []
  const loadBefore = load()
  for (let round = 0; round < rounds; round++) {
    const isPeer = (c: number) => (c + round) % 2 === 1
    const senders = sockets.map((s, c) => (isPeer(c) ? plain([s]) : ours([s], windowed))[0] as Sender)
    const calls = { ours: [] as number[], peer: [] as number[] }
    await rig.reset()
    const total = await openLoop(senders, {
      rate: 1000,
      seconds: 3,
      urgentEveryMs: 20,
      isPeer,
      onUrgentCall: (c, t) => (isPeer(c) ? calls.peer : calls.ours).push(t),
    })
    const c = await rig.collect(total, 30_000)
    runs.push({ ...c, call: { ours: summarize(calls.ours), peer: summarize(calls.peer) } })
  }
  const med = (read: (u: UrgentRun) => number) => ms(median(runs.map(read)))
  const us = (read: (u: UrgentRun) => number) => Math.round(median(runs.map(read)) * 1000)
  const oursP99 = runs.map((r) => r.urgent.p99)
  const peerP99 = runs.map((r) => r.peerUrgent.p99)
  const wins = runs.filter((r) => r.urgent.p99 <= r.peerUrgent.p99).length
  report({
    suite: SUITE,
    name: `urgent p99, send() to the client (priority 10, 50/s per connection) while 1,000 msgs/s per connection batch at '100ms' (paired, median of ${rounds} x 3 s)`,
    ours: med((r) => r.urgent.p99),
    peer: med((r) => r.peerUrgent.p99),
    peerName: 'ws.send (everything direct, same moments)',
    unit: 'ms',
    higherIsBetter: false,
    target: '<= 1 ms',
    note:
      `p99 per round ours ${oursP99.map(ms).join('/')}, ws ${peerP99.map(ms).join('/')} ms (ours <= ws in ${wins} of ${rounds}); ` +
      `p50 ours ${med((r) => r.urgent.p50)}, ws ${med((r) => r.peerUrgent.p50)} ms; ` +
      `to the handler (after decoding) p99 ours ${med((r) => r.urgentHandled.p99)}, ws ${med((r) => r.peerUrgentHandled.p99)} ms; ` +
      `the send() call p50/p99 ours ${us((r) => r.call.ours.p50)}/${us((r) => r.call.ours.p99)} us, ` +
      `ws ${us((r) => r.call.peer.p50)}/${us((r) => r.call.peer.p99)} us; load average ${loadBefore}-${load()}`,
  })
}

function summarize(xs: number[]): Latency {
  return { p50: percentile(xs, 50), p99: percentile(xs, 99), n: xs.length }
}
