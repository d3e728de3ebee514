/**
 * The WebSocket bench's plumbing: a ws server in this process (the server under test), the
 * clients in a child process (bench/ws-clients.ts) driven over IPC, and the two producers every
 * figure uses: closed loop (as fast as the server can, yielding every 1,000 sends) and open loop
 * (a fixed rate per connection, ticked by a 1 ms timer).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { type WebSocket, WebSocketServer } from 'ws'
import { type BatchedOptions, batched } from '../src/ws/index.js'

/** Milliseconds on the clock both processes share. */
export const now = (): number => performance.timeOrigin + performance.now()

/** Latency percentiles (ms) of one kind of message. */
export interface Latency {
  p50: number
  p99: number
  n: number
}

/**
 * What the clients report. Latency runs from the timestamp a message carries (taken just before
 * its send() call) to the TCP chunk holding it reaching the client process; `...Handled` to the
 * client's message handler, after decoding.
 */
export interface Collected {
  doneAt: number
  frames: number
  messages: number
  maxPerFrame: number
  normal: Latency
  /** The peer's normal messages in a paired run (`p: 1`). */
  peerNormal: Latency
  /** Urgent messages (`u: 1`). */
  urgent: Latency
  urgentHandled: Latency
  /** The peer's urgent messages in a paired run (`u: 2`). */
  peerUrgent: Latency
  peerUrgentHandled: Latency
  last: [string, number][]
}

/** A message producer: one call per message per connection. */
export type Sender = (message: object, urgent: boolean) => void

/** The server and the client process. */
export class Rig {
  private readonly wss: WebSocketServer
  private readonly child: ChildProcess
  private readonly waiting = new Map<string, (m: unknown) => void>()
  private readonly accepted: WebSocket[] = []
  readonly url: string

  private constructor(wss: WebSocketServer, child: ChildProcess) {
    this.wss = wss
    this.child = child
    this.url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`
    wss.on('connection', (s) => this.accepted.push(s))
    child.on('message', (m: { type: string }) => {
      const w = this.waiting.get(m.type)
      this.waiting.delete(m.type)
      w?.(m)
    })
  }

  /** Starts the server and the client process. */
  static async start(): Promise<Rig> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
    await once(wss, 'listening')
    const child = fork(new URL('./ws-clients.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const rig = new Rig(wss, child)
    await rig.expect('ready')
    return rig
  }

  private expect<T>(type: string): Promise<T> {
    return new Promise((resolve) => this.waiting.set(type, resolve as (m: unknown) => void))
  }

  /** Sends a command and waits for its answer. */
  ask<T>(cmd: { type: string; [k: string]: unknown }, answer: string): Promise<T> {
    const p = this.expect<T>(answer)
    this.child.send(cmd)
    return p
  }

  /** Opens `count` connections; returns their server sides. */
  async open(count: number): Promise<WebSocket[]> {
    this.accepted.length = 0
    await this.ask({ type: 'open', url: this.url, count }, 'opened')
    while (this.accepted.length < count) await new Promise((r) => setTimeout(r, 1))
    return [...this.accepted]
  }

  /** Closes every connection. */
  async closeAll(): Promise<void> {
    await this.ask({ type: 'close' }, 'closed')
    while (this.wss.clients.size > 0) await new Promise((r) => setTimeout(r, 5))
  }

  /** Starts collecting: resolves once `total` messages arrived (or after `ms`). */
  collect(total: number, ms = 60_000): Promise<Collected> {
    return this.ask<Collected>({ type: 'collect', total, ms }, 'collected')
  }

  async reset(): Promise<void> {
    await this.ask({ type: 'reset' }, 'reset')
  }

  async stop(): Promise<void> {
    this.child.send({ type: 'exit' })
    await once(this.child, 'exit')
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r))
const PAD = 'status:running;step:17'

/** Sends `total` messages round-robin as fast as it can, yielding every 1,000 sends. */
export async function closedLoop(senders: Sender[], total: number): Promise<void> {
  let sent = 0
  while (sent < total) {
    for (let i = 0; i < 1000 && sent < total; ) {
      for (const send of senders) {
        send({ t: now(), s: 'agent-0042', v: sent, d: PAD }, false)
        sent++
        i++
      }
    }
    await turn()
  }
}

/** Options of an open-loop run. */
export interface OpenLoop {
  /** Messages per second per connection. */
  rate: number
  seconds: number
  /**
   * Also send one urgent message per connection this often (ms), connection i at phase
   * i/connections of the period (so urgent messages are independent events, not bursts).
   */
  urgentEveryMs?: number
  /** Which connections are the peer's in a paired run: their messages say `p: 1`, urgent ones `u: 2`. */
  isPeer?: (connection: number) => boolean
  /** Receives the duration (ms) of each urgent send() call, with its connection's index. */
  onUrgentCall?: (connection: number, ms: number) => void
  /** Message body per connection and index (default: a ~70-byte status). */
  body?: (i: number) => object
}

/** Sends at a fixed rate per connection; returns how many messages went out in all. */
export async function openLoop(senders: Sender[], o: OpenLoop): Promise<number> {
  const start = now()
  let sent = 0
  const urgentSent = new Array<number>(senders.length).fill(0)
  for (;;) {
    const elapsed = now() - start
    if (elapsed >= o.seconds * 1000) break
    const due = Math.floor((elapsed * o.rate) / 1000)
    while (sent < due) {
      for (let c = 0; c < senders.length; c++) {
        const body = o.body?.(sent)
        const m =
          o.isPeer?.(c) === true
            ? { t: now(), v: sent, d: PAD, p: 1, ...body }
            : { t: now(), v: sent, d: PAD, ...body }
        ;(senders[c] as Sender)(m, false)
      }
      sent++
    }
    const every = o.urgentEveryMs
    if (every !== undefined) {
      for (let c = 0; c < senders.length; c++) {
        const phase = (c * every) / senders.length
        const send = senders[c] as Sender
        while ((urgentSent[c] as number) < Math.floor((elapsed - phase) / every) + 1) {
          const t = now()
          send({ t, u: o.isPeer?.(c) === true ? 2 : 1 }, true)
          o.onUrgentCall?.(c, now() - t)
          urgentSent[c] = (urgentSent[c] as number) + 1
        }
      }
    }
    await new Promise((r) => setTimeout(r, 1))
  }
  return sent * senders.length + urgentSent.reduce((a, b) => a + b, 0)
}

const URGENT = Object.freeze({ priority: 10 })

/** The peer: one `ws.send(JSON.stringify(message))` per message. */
export function plain(sockets: WebSocket[]): Sender[] {
  return sockets.map((s) => (m: object) => s.send(JSON.stringify(m)))
}

/**
 * One sender per socket and batcher name, made once: a batcher stays on its socket until the
 * socket closes (its 'close' listener and its place in the name's open set), so making a new one
 * every round would pile them up on the same sockets.
 */
const made = new WeakMap<WebSocket, Map<string, Sender>>()

/** Ours: `batched(socket, options)` (one per socket and `options.name`); urgent messages go with `priority: 10`. */
export function ours(sockets: WebSocket[], options: BatchedOptions = {}): Sender[] {
  return sockets.map((s) => {
    let byName = made.get(s)
    if (byName === undefined) {
      byName = new Map()
      made.set(s, byName)
    }
    const name = options.name ?? 'ws'
    let sender = byName.get(name)
    if (sender === undefined) {
      const b = batched(s, options)
      sender = (m: object, urgent: boolean) => {
        b.send(m, urgent ? URGENT : undefined)
      }
      byName.set(name, sender)
    }
    return sender
  })
}

/** Rounds to 0.01. */
export const ms = (n: number): number => Math.round(n * 100) / 100

/** p-th percentile of samples. */
export function percentile(xs: number[], p: number): number {
  const s = Float64Array.from(xs).sort()
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number
}

/** The median. */
export function median(xs: number[]): number {
  return percentile(xs, 50)
}
