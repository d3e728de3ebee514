/**
 * hedge(): when the first attempt is slow, send another and keep whichever answers first
 * (Dean and Barroso, "The Tail at Scale", CACM 2013). The delay is fixed or a latency
 * percentile of recent calls; losing attempts are aborted through their signal.
 */
import { Events } from '../events.js'
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, systemClock, toTimerMs } from '../time.js'
import type { MonitorLike } from '../types.js'
import type { Policy, PolicyContext, Work } from './policy.js'
import { traceExecute, tracingChannels } from './tracing.js'

/** Options of `hedge()`. */
export interface HedgeOptions {
  /** Fixed delay before a hedged attempt. Either this or `percentile`. */
  delay?: Duration
  /** Hedge after this percentile (0-100) of recent latencies. @default 95 when no delay is given */
  percentile?: number
  /** Delay used until enough latencies are known (percentile mode). @default 50 */
  initialDelay?: Duration
  /** Extra attempts at most. @default 1 */
  maxHedges?: number
  /** @default 'hedge' */
  name?: string
  clock?: Clock
  monitor?: MonitorLike
}

const SAMPLES = 512

const KNOWN = ['delay', 'percentile', 'initialDelay', 'maxHedges', 'name', 'clock', 'monitor'] as const

/** A hedging policy. */
export class HedgePolicy implements Policy {
  readonly kind = 'hedge'
  readonly name: string
  private readonly events = new Events<{ hedge: { attempt: number; delay: number } }>()
  private readonly fixed: number | undefined
  private readonly pct: number
  private readonly initial: number
  private readonly maxHedges: number
  private readonly clock: Clock
  private readonly lat = new Float64Array(SAMPLES)
  private latCount = 0
  private cached = -1
  private counts = { calls: 0, hedges: 0, hedgeWins: 0 }

  constructor(options: HedgeOptions = {}) {
    assertKnownKeys(options, KNOWN, 'hedge options')
    this.name = options.name ?? 'hedge'
    this.clock = options.clock ?? systemClock
    this.fixed = options.delay === undefined ? undefined : toTimerMs(options.delay, 'hedge delay')
    this.pct = options.percentile ?? 95
    if (!(this.pct > 0 && this.pct < 100))
      throw new RangeError(`percentile must be in (0, 100); received ${this.pct}`)
    this.initial = toTimerMs(options.initialDelay ?? 50, 'hedge initialDelay')
    this.maxHedges = options.maxHedges ?? 1
    if (!Number.isInteger(this.maxHedges) || this.maxHedges < 1) {
      throw new RangeError(`maxHedges must be an integer >= 1; received ${this.maxHedges}`)
    }
    options.monitor?.attach(this)
  }

  /** The delay before the next hedged attempt. */
  get delay(): number {
    if (this.fixed !== undefined) return this.fixed
    if (this.latCount < 20) return this.initial
    if (this.cached < 0 || (this.latCount & 63) === 0) {
      const n = Math.min(this.latCount, SAMPLES)
      const sorted = Array.from(this.lat.subarray(0, n)).sort((a, b) => a - b)
      this.cached = sorted[Math.min(n - 1, Math.floor((this.pct / 100) * n))] as number
    }
    return this.cached
  }

  private record(ms: number): void {
    this.lat[this.latCount % SAMPLES] = ms
    this.latCount++
  }

  /** Runs `fn`, hedging when it is slow; the first success wins, the others are aborted. */
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
    if (tracingChannels.execute.hasSubscribers) return traceExecute(this, () => this.run(fn, signal))
    return this.run(fn, signal)
  }

  private run<T>(fn: Work<T>, signal: AbortSignal | undefined): Promise<T> {
    this.counts.calls++
    const start = this.clock.now()
    return new Promise<T>((resolve, reject) => {
      const controllers: AbortController[] = []
      let settled = false
      let running = 0
      let launched = 0
      let lastError: unknown
      let timer: unknown
      const finish = () => {
        settled = true
        if (timer !== undefined) this.clock.clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const onAbort = () => {
        if (settled) return
        finish()
        for (const c of controllers) c.abort(signal?.reason)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      const launch = (attempt: number) => {
        const c = new AbortController()
        controllers.push(c)
        running++
        launched++
        const ctx: PolicyContext = { signal: c.signal, attempt }
        Promise.resolve()
          .then(() => fn(ctx))
          .then(
            (v) => {
              if (settled) return
              finish()
              this.record(this.clock.now() - start)
              if (attempt > 1) this.counts.hedgeWins++
              for (const other of controllers)
                if (other !== c) other.abort(new Error('hedge: another attempt won'))
              resolve(v)
            },
            (e: unknown) => {
              running--
              lastError = e
              if (settled) return
              if (running > 0) return
              if (launched > this.maxHedges) {
                finish()
                reject(lastError)
              } else {
                // every attempt so far failed before the hedge delay: hedge now
                if (timer !== undefined) this.clock.clearTimeout(timer)
                schedule(launched + 1, 0)
              }
            },
          )
      }
      const fireHedge = (attempt: number, delay: number) => {
        this.counts.hedges++
        if (this.events.has('hedge')) this.events.emit('hedge', { attempt, delay })
        launch(attempt)
        schedule(attempt + 1, this.delay)
      }
      const schedule = (attempt: number, delay: number) => {
        if (attempt > this.maxHedges + 1) return
        if (delay <= 0) {
          fireHedge(attempt, 0)
          return
        }
        timer = this.clock.setTimeout(() => {
          timer = undefined
          if (!settled) fireHedge(attempt, delay)
        }, delay)
      }
      launch(1)
      schedule(2, this.delay)
    })
  }

  on(event: 'hedge', listener: (payload: { attempt: number; delay: number }) => void) {
    return this.events.on(event, listener)
  }

  stats() {
    return { ...this.counts, delay: this.delay }
  }
}

/** Creates a hedging policy. */
export function hedge(options: HedgeOptions = {}): HedgePolicy {
  return new HedgePolicy(options)
}
