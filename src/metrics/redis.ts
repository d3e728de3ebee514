/**
 * Figures for a shared ioredis client (standalone `Redis` or `Cluster`): commands and errors by
 * command, a latency histogram, commands in flight, pipeline batch sizes (auto-pipelining and
 * explicit pipelines), reconnects, connection state and uptime — plus a health check (status
 * and a PING). Nothing is patched globally: only this client instance's `sendCommand` is
 * wrapped (restored by `dispose()`), and its own connection events are listened to.
 */
import { performance } from 'node:perf_hooks'
import { type Disposer, Events } from '../events.js'
import { assertKnownKeys } from '../options.js'
import { type Duration, toTimerMs } from '../time.js'
import type { Instrumentable, MonitorLike } from '../types.js'
import type { Adapter } from './adapters.js'
import type { HealthCheck } from './health.js'
import { histogramValues } from './live-metric.js'

/** The parts of an ioredis `Redis` or `Cluster` that are used (structural: no import of ioredis). */
export interface RedisClientLike {
  status: string
  // biome-ignore lint/suspicious/noExplicitAny: ioredis' own signature (command, stream?, node?)
  sendCommand(...args: any[]): unknown
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter listener
  on(event: string, listener: (...args: any[]) => void): unknown
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter listener
  off(event: string, listener: (...args: any[]) => void): unknown
  ping(): Promise<unknown>
  nodes?: (role?: 'all' | 'master' | 'slave') => unknown[]
}

/** A monitor that can also take health checks (hotpath/metrics `Monitor`). */
export interface RedisMonitorLike extends MonitorLike {
  addHealthCheck(check: HealthCheck): void
  removeHealthCheck?(name: string): boolean
}

/** Options of `instrumentRedis()`. */
export interface RedisInstrumentationOptions {
  /** The client's name (the `client` label). @default 'redis' */
  name?: string
  /** Monitor to report into; its health checks get `redis:<name>` unless `healthCheck` is false. */
  monitor?: RedisMonitorLike
  /** The health check: connection status plus a PING bounded by `timeout`. @default { timeout: '1s', critical: true } */
  healthCheck?: false | { timeout?: Duration; critical?: boolean }
}

/** Events of an instrumented client (what the monitor's adapter listens to). */
export interface RedisClientEvents {
  command: { command: string; durationMs: number; ok: boolean }
  batch: { size: number }
  state: { status: string }
  reconnect: { attempt: number }
  error: { message: string }
}

/** Latency bucket bounds (seconds). */
export const REDIS_LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
] as const

/** Pipeline batch-size bucket bounds (commands). */
export const REDIS_BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const

/** Per-command figures, bumped on every reply (plain numbers: no label hashing per command). */
export class CommandStats {
  count = 0
  errors = 0
  sumSeconds = 0
  /** Replies per latency bucket (not cumulative), in REDIS_LATENCY_BUCKETS order. */
  readonly buckets = new Float64Array(REDIS_LATENCY_BUCKETS.length)
}

// command names kept apart per client; more fold into '__other__' (names come from code, but
// `client.call(anything)` could make them unbounded)
const MAX_COMMANDS = 300

interface CommandLike {
  name: string
  promise: Promise<unknown>
  [SEEN]?: true
}

// a command the offline queue sends again is counted once
const SEEN: unique symbol = Symbol('hotpath.redis.seen')
const KNOWN = ['name', 'monitor', 'healthCheck']
const STATE_EVENTS = ['connect', 'ready', 'close', 'end', 'reconnecting', 'wait']

/** An instrumented ioredis client. */
export class RedisInstrumentation implements Instrumentable {
  readonly kind = 'redis'
  readonly name: string
  readonly cluster: boolean
  private readonly events = new Events<RedisClientEvents>()
  private readonly counts = { reconnects: 0, connectionErrors: 0, batches: 0, batchedCommands: 0 }
  /** Pipeline writes per batch-size bucket (not cumulative), in REDIS_BATCH_BUCKETS order. */
  readonly batchBuckets = new Float64Array(REDIS_BATCH_BUCKETS.length)
  /** Figures by command name. */
  readonly commands = new Map<string, CommandStats>()
  private inFlight = 0
  private readySince: number | undefined
  private batchStream: unknown
  private batchSize = 0
  private readonly offs: Disposer[] = []
  private readonly healthName: string | undefined
  private readonly monitor: RedisMonitorLike | undefined
  private disposed = false

  constructor(
    readonly client: RedisClientLike,
    options: RedisInstrumentationOptions = {},
  ) {
    if (client === null || typeof client !== 'object' || typeof client.sendCommand !== 'function') {
      throw new TypeError('instrumentRedis(client) needs an ioredis Redis or Cluster client')
    }
    assertKnownKeys(options, KNOWN, 'instrumentRedis options')
    this.name = options.name ?? 'redis'
    if (typeof this.name !== 'string' || this.name === '')
      throw new TypeError(`instrumentRedis name must be a non-empty string; received ${String(this.name)}`)
    this.cluster = typeof client.nodes === 'function'
    if (client.status === 'ready') this.readySince = Date.now()
    this.wrap()
    this.listen()
    this.monitor = options.monitor
    const detach = options.monitor?.attach(this)
    if (detach !== undefined) this.offs.push(detach)
    const hc = options.healthCheck
    if (hc !== false && options.monitor !== undefined) {
      assertKnownKeys(hc, ['timeout', 'critical'], 'instrumentRedis healthCheck')
      this.healthName = `redis:${this.name}`
      options.monitor.addHealthCheck(this.healthCheck(hc ?? {}))
    }
  }

  private wrap(): void {
    const client = this.client
    const own = Object.hasOwn(client, 'sendCommand')
    const original = client.sendCommand
    const self = this
    client.sendCommand = function (this: unknown, command: CommandLike, stream?: unknown, node?: unknown) {
      if (command !== null && typeof command === 'object' && command[SEEN] !== true)
        self.sent(command, stream)
      return original.call(this, command, stream, node)
    }
    this.offs.push(() => {
      if (own) client.sendCommand = original
      else delete (client as { sendCommand?: unknown }).sendCommand
    })
  }

  private sent(command: CommandLike, stream: unknown): void {
    command[SEEN] = true
    this.inFlight++
    // pipelines (auto or explicit) hand every command of one write the same stream
    if (stream !== undefined && stream === this.batchStream) this.batchSize++
    else {
      this.flushBatch()
      if (stream !== undefined) {
        this.batchStream = stream
        this.batchSize = 1
      }
    }
    const name = command.name
    let entry = this.commands.get(name)
    if (entry === undefined) entry = this.entry(name)
    const start = performance.now()
    command.promise?.then(
      () => this.done(name, entry, start, true),
      () => this.done(name, entry, start, false),
    )
  }

  private entry(name: string): CommandStats {
    const key = this.commands.size >= MAX_COMMANDS ? '__other__' : name
    let e = this.commands.get(key)
    if (e === undefined) {
      e = new CommandStats()
      this.commands.set(key, e)
    }
    return e
  }

  private done(name: string, e: CommandStats, start: number, ok: boolean): void {
    const ms = performance.now() - start
    this.inFlight--
    e.count++
    if (!ok) e.errors++
    const s = ms / 1000
    e.sumSeconds += s
    const b = REDIS_LATENCY_BUCKETS
    for (let i = 0; i < b.length; i++) {
      if (s <= (b[i] as number)) {
        e.buckets[i] = (e.buckets[i] as number) + 1
        break
      }
    }
    if (this.events.has('command')) this.events.emit('command', { command: name, durationMs: ms, ok })
  }

  private flushBatch(): void {
    const size = this.batchSize
    if (size > 0) {
      this.counts.batches++
      this.counts.batchedCommands += size
      const i = REDIS_BATCH_BUCKETS.findIndex((b) => size <= b)
      if (i >= 0) this.batchBuckets[i] = (this.batchBuckets[i] as number) + 1
      if (this.events.has('batch')) this.events.emit('batch', { size })
    }
    this.batchStream = undefined
    this.batchSize = 0
  }

  private listen(): void {
    const on = (event: string, fn: (...args: unknown[]) => void) => {
      this.client.on(event, fn)
      this.offs.push(() => this.client.off(event, fn))
    }
    for (const event of STATE_EVENTS) {
      on(event, () => {
        if (event === 'ready') this.readySince = Date.now()
        else if (event !== 'connect') this.readySince = undefined
        this.events.emit('state', { status: this.client.status })
      })
    }
    on('reconnecting', () => {
      this.counts.reconnects++
      this.events.emit('reconnect', { attempt: this.counts.reconnects })
    })
    on('error', (err) => {
      this.counts.connectionErrors++
      this.events.emit('error', { message: String((err as Error)?.message ?? err) })
    })
  }

  /** Subscribes to 'command', 'batch', 'state', 'reconnect' or 'error'. */
  on<K extends keyof RedisClientEvents>(
    event: K,
    listener: (payload: RedisClientEvents[K]) => void,
  ): Disposer {
    return this.events.on(event, listener)
  }

  /** Counters and the connection's state. */
  stats() {
    this.flushBatch()
    let commands = 0
    let errors = 0
    for (const e of this.commands.values()) {
      commands += e.count
      errors += e.errors
    }
    return {
      commands,
      errors,
      status: this.client.status,
      ready: this.client.status === 'ready',
      uptimeMs: this.readySince === undefined ? 0 : Date.now() - this.readySince,
      inFlight: this.inFlight,
      nodes: this.cluster ? (this.client.nodes?.('all').length ?? 0) : 1,
      ...this.counts,
    }
  }

  /** A health check: the connection is ready and answers PING within `timeout`. */
  healthCheck(o: { timeout?: Duration; critical?: boolean } = {}): HealthCheck {
    const timeout = toTimerMs(o.timeout ?? '1s', 'healthCheck.timeout')
    return {
      name: `redis:${this.name}`,
      timeout,
      critical: o.critical ?? true,
      check: async () => {
        const status = this.client.status
        if (status !== 'ready') return { status: 'unhealthy', details: { status } }
        const t0 = performance.now()
        await this.client.ping()
        return { status: 'healthy', details: { status, pingMs: performance.now() - t0 } }
      },
    }
  }

  /** Restores the client's sendCommand, stops listening, detaches from the monitor. */
  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    for (const off of this.offs.splice(0).reverse()) off()
    if (this.healthName !== undefined) this.monitor?.removeHealthCheck?.(this.healthName)
  }
}

/** Instruments an ioredis client (Redis or Cluster) and, given a monitor, reports into it. */
export function instrumentRedis(
  client: RedisClientLike,
  options: RedisInstrumentationOptions = {},
): RedisInstrumentation {
  return new RedisInstrumentation(client, options)
}

/**
 * The monitor's adapter for instrumented Redis clients (kind 'redis'). Commands, errors and
 * latency are live metrics read from the client's per-command figures at scrape time.
 */
export const redisAdapter: Adapter = (source, ctx) => {
  const p = ctx.prefix
  const client = source.name
  const own = { client }
  const redis = source as RedisInstrumentation
  const each = (fn: (command: string, e: CommandStats) => void) => {
    for (const [command, e] of redis.commands) fn(command, e)
  }
  const latencyName = `${p}redis_command_duration_seconds`
  const removers = [
    ctx
      .live(`${p}redis_commands_total`, 'Redis commands answered, by command', 'counter')
      .add((out) => each((command, e) => out.push({ value: e.count, labels: { client, command } }))),
    ctx
      .live(`${p}redis_command_errors_total`, 'Redis commands that failed, by command', 'counter')
      .add((out) => each((command, e) => out.push({ value: e.errors, labels: { client, command } }))),
    ctx
      .live(latencyName, 'Redis command latency (sent to reply)', 'histogram')
      .add((out) =>
        each((command, e) =>
          histogramValues(
            out,
            latencyName,
            { client, command },
            REDIS_LATENCY_BUCKETS,
            e.buckets,
            e.count,
            e.sumSeconds,
          ),
        ),
      ),
  ]
  const batchName = `${p}redis_pipeline_commands`
  removers.push(
    ctx
      .live(batchName, 'Commands per pipeline write (auto-pipelining and explicit pipelines)', 'histogram')
      .add((out) => {
        const s = redis.stats()
        histogramValues(
          out,
          batchName,
          own,
          REDIS_BATCH_BUCKETS,
          redis.batchBuckets,
          s.batches,
          s.batchedCommands,
        )
      }),
  )
  const reconnects = ctx.counter(`${p}redis_reconnects_total`, 'Reconnection attempts', ['client'])
  const connErrors = ctx.counter(`${p}redis_connection_errors_total`, 'Connection errors', ['client'])
  const inFlight = ctx.gauge(`${p}redis_commands_in_flight`, 'Commands sent and not answered yet', ['client'])
  const up = ctx.gauge(`${p}redis_up`, '1 while the connection is ready', ['client'])
  const status = ctx.gauge(`${p}redis_connection_status`, 'The connection status (1 for the current one)', [
    'client',
    'status',
  ])
  const uptime = ctx.gauge(`${p}redis_connection_uptime_seconds`, 'Time since the connection became ready', [
    'client',
  ])
  const nodes = ctx.gauge(`${p}redis_cluster_nodes`, 'Cluster nodes known to the client', ['client'])
  let lastStatus: string | undefined
  const offs = [
    ...removers,
    source.on('reconnect', () => reconnects.inc(own)),
    source.on('error', () => connErrors.inc(own)),
  ]
  return {
    collect() {
      const s = source.stats() as ReturnType<RedisInstrumentation['stats']>
      inFlight.set(own, s.inFlight)
      up.set(own, s.ready ? 1 : 0)
      if (lastStatus !== undefined && lastStatus !== s.status) status.remove({ client, status: lastStatus })
      status.set({ client, status: s.status }, 1)
      lastStatus = s.status
      uptime.set(own, s.uptimeMs / 1000)
      if ((source as RedisInstrumentation).cluster) nodes.set(own, s.nodes)
    },
    dispose() {
      for (const off of offs) off()
      for (const g of [inFlight, up, uptime, nodes]) g.remove(own)
      if (lastStatus !== undefined) status.remove({ client, status: lastStatus })
    },
  }
}
