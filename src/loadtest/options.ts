/**
 * `runLoadTest` options: a scenario (file, preset or code) plus the run's plumbing, resolved
 * into one frozen plan. The model follows from the shape: `rate`, `stages` or `stairs` make an
 * open model, otherwise `vus` virtual users (default: one per connection) make a closed one.
 */
import { assertKnownKeys } from '../options.js'
import { type Clock, type Duration, toMs, toTimerMs } from '../time.js'
import { precisionClock } from './clock.js'
import { ScenarioError } from './errors.js'
import { type Pacing, resolvePacing } from './open-model.js'
import type { LiveFigures } from './run.js'
import { checkUrl, parseRate, SCENARIO_KEYS, type ScenarioSpec, validateScenario } from './scenario.js'
import { peakRate, type RateStage, type ScheduleShard, scheduleLength, stairs } from './schedule.js'
import type { TimelinePoint } from './stats.js'
import { parseThreshold, type Threshold } from './thresholds.js'

/** Options of `runLoadTest`: every scenario field plus the run's plumbing. */
export interface LoadTestOptions extends ScenarioSpec {
  /** Base URL of the target (required here or in the scenario). */
  target?: string
  /** Time source (tests pass a fake one). @default a sub-millisecond system clock */
  clock?: Clock
  /** Stops the run: the schedule ends at once, requests in flight get `gracefulStop`. @default none */
  signal?: AbortSignal
  /** Called once a second with the second that ended and the run's figures so far. @default none */
  onProgress?: (point: TimelinePoint, live: LiveFigures) => void
  /** A send later than this after its intended time is counted late. @default '1ms' */
  lateAfter?: Duration
  /** With `abortOnFail`: thresholds are not checked before this much of the run. @default '5s' */
  abortAfter?: Duration
  /** How long requests still in flight at the end may take before they are cancelled. @default the timeout */
  gracefulStop?: Duration
  /**
   * Prometheus endpoint scraped once a second for server-side figures, or `false`. @default the
   * target's `/metrics` when it answers with Prometheus text, otherwise no scraping
   */
  scrape?: string | false
  /**
   * @internal Worker threads: this generator sends every `of`-th arrival of the schedule, from
   * arrival `index` (the rates stay the whole run's). @default all of them
   */
  shard?: ScheduleShard
}

/** The resolved plan. */
export interface ResolvedLoadTest {
  name: string | undefined
  target: URL
  model: 'open' | 'closed'
  /** Open model stages (empty for the closed model). */
  stages: readonly RateStage[]
  vus: number
  thinkMs: number
  durationMs: number
  connections: number
  pipelining: number
  timeoutMs: number
  http2: boolean
  /** `net` (plain HTTP/1.1 on raw sockets) or `undici`, `auto` resolved by the target's scheme. */
  client: 'net' | 'undici'
  /** Open model: how the next send is waited for. */
  pacing: Pacing
  maxInFlight: number
  lateAfterMs: number
  abortAfterMs: number
  gracefulStopMs: number
  abortOnFail: boolean
  thresholds: readonly Threshold[]
  steps: ScenarioSpec['steps']
  clock: Clock
  signal: AbortSignal | undefined
  onProgress: LoadTestOptions['onProgress']
  scrape: string | false | undefined
  shard: ScheduleShard | undefined
}

const KNOWN = [
  ...SCENARIO_KEYS,
  'clock',
  'signal',
  'onProgress',
  'lateAfter',
  'abortAfter',
  'gracefulStop',
  'scrape',
  'shard',
]

/** Validates and resolves `options` (throws `ScenarioError` or `TypeError` naming the field). */
export function resolveLoadTestOptions(options: LoadTestOptions): ResolvedLoadTest {
  assertKnownKeys(options, KNOWN, 'loadtest options')
  const { clock, signal, onProgress, lateAfter, abortAfter, gracefulStop, scrape, shard, ...scenario } =
    options
  const s = validateScenario(
    Object.fromEntries(Object.entries(scenario).filter(([, v]) => v !== undefined)),
    undefined,
  )
  if (s.target === undefined)
    throw new ScenarioError(
      { field: 'target' },
      'is required: the URL to load, such as http://127.0.0.1:3000/',
    )
  const target = checkUrl(s.target, (problem) => {
    throw new ScenarioError({ field: 'target' }, problem)
  })
  const timeoutMs = toTimerMs(s.timeout ?? '10s', 'timeout')
  // undici reads 0 as "no timeout", the net client's sweep as "already late": neither is a plan
  if (timeoutMs <= 0) throw new ScenarioError({ field: 'timeout' }, 'must be longer than 0')
  let stages: RateStage[] = []
  let durationMs = toTimerMs(s.duration ?? '10s', 'duration')
  if (s.stages !== undefined) {
    stages = s.stages.map((st) => ({
      durationMs: toMs(st.duration),
      from: st.rate ?? (st.from as number),
      to: st.rate ?? (st.to as number),
    }))
  } else if (s.stairs !== undefined) {
    stages = stairs(s.stairs.from, s.stairs.step, s.stairs.steps, toMs(s.stairs.every))
  } else if (s.rate !== undefined) {
    const { from, to } = parseRate(s.rate, (problem) => {
      throw new ScenarioError({ field: 'rate' }, problem)
    })
    stages = [{ durationMs, from, to }]
  }
  const open = stages.length > 0
  if (open) durationMs = scheduleLength(stages)
  if (durationMs <= 0) throw new ScenarioError({ field: 'duration' }, 'must be longer than 0')
  const connections = s.connections ?? (open ? 50 : (s.vus ?? 10))
  // a shard sends 1/of of the arrivals: its own peak rate
  const peak = peakRate(stages) / (shard?.of ?? 1)
  const plain = target.protocol === 'http:'
  // the pacer thread sleeps on the system clock: a run on a clock of the caller's paces by its timers
  const ownClock = options.clock !== undefined
  if (ownClock && s.pacing === 'precise')
    throw new ScenarioError(
      { field: 'pacing' },
      "'precise' sleeps on the system clock in its own thread and cannot follow a custom clock: use 'timer' or 'spin'",
    )
  if (s.client === 'net' && !plain)
    throw new ScenarioError(
      { field: 'client' },
      `'net' speaks plain HTTP/1.1 only; ${target.origin} is https: use 'auto' or 'undici'`,
    )
  return Object.freeze({
    name: s.name,
    target,
    model: open ? 'open' : 'closed',
    stages: Object.freeze(stages),
    vus: open ? 0 : (s.vus ?? connections),
    thinkMs: s.think === undefined ? 0 : toTimerMs(s.think, 'think'),
    durationMs,
    connections,
    pipelining: s.pipelining ?? 1,
    timeoutMs,
    http2: s.http2 ?? false,
    client: s.client === 'undici' || !plain ? 'undici' : 'net',
    pacing: resolvePacing(s.pacing ?? (ownClock ? 'timer' : 'auto'), peak),
    // Every request that can be outstanding within one timeout: beyond that a send is dropped.
    maxInFlight: s.maxInFlight ?? Math.max(100, Math.ceil((peak * timeoutMs) / 1000)),
    lateAfterMs: toMs(lateAfter ?? '1ms', 'lateAfter'),
    abortAfterMs: toMs(abortAfter ?? '5s', 'abortAfter'),
    gracefulStopMs: toTimerMs(gracefulStop ?? timeoutMs, 'gracefulStop'),
    abortOnFail: s.abortOnFail ?? false,
    thresholds: Object.freeze((s.thresholds ?? []).map((t, i) => parseThreshold(t, `thresholds[${i}]`))),
    steps: s.steps,
    clock: clock ?? precisionClock,
    signal,
    onProgress,
    shard,
    scrape:
      scrape === undefined || scrape === false
        ? scrape
        : checkUrl(scrape, (problem) => {
            throw new ScenarioError({ field: 'scrape' }, problem)
          }).href,
  })
}
