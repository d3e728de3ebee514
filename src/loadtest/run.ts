/**
 * `runLoadTest`: resolves the plan, runs the open or closed model over undici, ticks the timeline
 * once a second (progress, early abort on a failed threshold), and builds the JSON report. A stop
 * (signal or threshold) ends the schedule at once; requests in flight get `gracefulStop`, then are
 * cancelled; the report covers what ran.
 */
import { setMaxListeners } from 'node:events'
import type { Agent } from 'undici'
import type { TimerHandle } from '../time.js'
import { runClosedModel } from './closed-model.js'
import { compileSteps } from './compile.js'
import { ScenarioError } from './errors.js'
import { NetPool } from './h1-client.js'
import { createAgent, createDirectIteration, createIteration } from './http.js'
import { runOpenModel } from './open-model.js'
import { type LoadTestOptions, resolveLoadTestOptions } from './options.js'
import { type LoadTestReport, REPORT_FORMAT, type StopReason } from './report.js'
import { reduceScrape, type ServerSample, scrape } from './scrape.js'
import { Stats } from './stats.js'
import { canAbortEarly, evaluate, type Figures, isLatency } from './thresholds.js'

/** Longest wait for in-flight requests after a stop. */
const STOP_GRACE_MS = 1000

/** The run's figures so far, handed to `onProgress`. */
export interface LiveFigures {
  /** Seconds since the start. */
  elapsed: number
  requests: number
  errors: number
  /** Completed requests per second over the last second. */
  rate: number
  /** Requests sent and not yet answered. */
  inFlight: number
  /** Corrected latency percentiles over the run so far (ms). */
  p50: number
  p99: number
  dropped: number
}

/** Runs a load test and resolves with its report (also when stopped early). */
export async function runLoadTest(options: LoadTestOptions): Promise<LoadTestReport> {
  const plan = resolveLoadTestOptions(options)
  const { clock } = plan
  const stats = new Stats()
  const agent = createAgent(plan)
  const pool =
    plan.client === 'net'
      ? new NetPool({
          origin: plan.target.origin,
          connections: plan.connections,
          pipelining: plan.pipelining,
          timeoutMs: plan.timeoutMs,
          clock,
        })
      : undefined
  const cancel = new AbortController()
  // Think times of every in-flight iteration listen on it: thousands of listeners are expected.
  setMaxListeners(0, cancel.signal)
  const stop = new AbortController()
  let stopped: StopReason | undefined
  const stopRun = (reason: StopReason['reason'], detail: string): void => {
    if (stop.signal.aborted) return
    stopped = { reason, detail, atMs: clock.now() - stats.startedAt }
    stop.abort()
  }
  const onSignal = (): void => stopRun('interrupted', 'stopped by the caller (signal)')
  plan.signal?.addEventListener('abort', onSignal, { once: true })
  const context = {
    agent,
    pool,
    steps: compileSteps(plan.steps, plan.target, pool !== undefined),
    stats,
    clock,
    signal: cancel.signal,
    timeoutMs: plan.timeoutMs,
  }
  const iterate = createIteration(context)
  // One fixed request over the net client: no promise per request (see createDirectIteration).
  const direct = createDirectIteration(context)
  await preflight(agent, plan.target, plan.timeoutMs).catch((err) => {
    pool?.destroy()
    throw err
  })
  const scrapeUrl = plan.scrape === false ? undefined : (plan.scrape ?? new URL('/metrics', plan.target).href)
  // Auto mode: only when the target answers its /metrics as Prometheus text.
  let previous = scrapeUrl === undefined ? undefined : await scrape(scrapeUrl, 1000)
  const server: ServerSample[] = []
  const start = clock.now()
  stats.startedAt = start
  if (previous !== undefined) server.push(reduceScrape(0, previous, undefined))
  let previousT = 0
  const scrapeOnce = (t: number): void => {
    if (scrapeUrl === undefined || previous === undefined) return
    void scrape(scrapeUrl, 900).then((e) => {
      if (e === undefined) return
      server.push(reduceScrape(t, e, previous === undefined ? undefined : { e: previous, t: previousT }))
      previous = e
      previousT = t
    })
  }
  const wallStart = Date.now()

  let graceTimer: TimerHandle | undefined
  const startGrace = (): void => {
    if (graceTimer !== undefined) clock.clearTimeout(graceTimer)
    // A stop (Ctrl-C, a failed threshold) wants the report now: in-flight requests get 1 s at most.
    const grace = stop.signal.aborted ? Math.min(plan.gracefulStopMs, STOP_GRACE_MS) : plan.gracefulStopMs
    graceTimer = clock.setBackgroundTimeout(() => {
      cancel.abort()
      // One signal per request would cost an abort listener each; destroying the agent fails them all.
      agent.destroy().catch(() => {})
      pool?.destroy()
    }, grace)
  }
  stop.signal.addEventListener('abort', startGrace, { once: true })
  // The planned end also starts the grace period (the models wait for their in-flight work).
  const endTimer = clock.setBackgroundTimeout(startGrace, plan.durationMs)

  const abortable = plan.abortOnFail ? plan.thresholds.filter(canAbortEarly) : []
  let second = 0
  let lastRequests = 0
  let ticker: TimerHandle | undefined
  const tick = (): void => {
    second++
    scrapeOnce(second)
    const point = stats.closeInterval(second)
    const now = clock.now()
    if (abortable.length > 0 && now - start >= plan.abortAfterMs) {
      const figures = liveFigures(stats, now)
      // nothing finished yet: a latency threshold cannot be judged before the first answer
      const failed = abortable
        .filter((t) => figures.requests > 0 || !isLatency(t))
        .map((t) => evaluate(t, figures))
        .find((r) => !r.ok)
      if (failed !== undefined) stopRun('threshold', `${failed.threshold} failed (actual ${failed.actual})`)
    }
    plan.onProgress?.(point, {
      elapsed: (now - start) / 1000,
      requests: stats.requests,
      errors: stats.errors,
      rate: stats.requests - lastRequests,
      inFlight: stats.sends.sent - stats.requests,
      p50: stats.corrected.at(50),
      p99: stats.corrected.at(99),
      dropped: stats.sends.dropped,
    })
    lastRequests = stats.requests
    ticker = clock.setBackgroundTimeout(tick, start + (second + 1) * 1000 - clock.now())
  }
  ticker = clock.setBackgroundTimeout(tick, 1000)

  try {
    if (plan.model === 'open') {
      await runOpenModel({
        stages: plan.stages,
        clock,
        stats,
        maxInFlight: plan.maxInFlight,
        lateAfterMs: plan.lateAfterMs,
        pacing: plan.pacing,
        shard: plan.shard,
        signal: stop.signal,
        iteration: (intended, i) => iterate(intended, i),
        direct: direct === undefined ? undefined : (intended, _i, done) => direct(intended, done),
      })
    } else {
      await runClosedModel({
        vus: plan.vus,
        durationMs: plan.durationMs,
        thinkMs: plan.thinkMs,
        clock,
        signal: stop.signal,
        iteration: (vu, i) => {
          stats.sends.scheduled++
          stats.sends.sent++
          return iterate(clock.now(), i, vu)
        },
        direct:
          direct === undefined
            ? undefined
            : (_vu, _i, done) => {
                stats.sends.scheduled++
                stats.sends.sent++
                direct(undefined, done)
              },
      })
    }
  } finally {
    const now = clock.now()
    // An open run spans its schedule even when its last answers come before the planned end
    // (at 5/s the last send leaves at 800 ms of 1 s): its rate is over the whole plan.
    stats.endedAt =
      plan.model === 'open' && stopped === undefined ? Math.max(now, start + plan.durationMs) : now
    clock.clearTimeout(ticker)
    clock.clearTimeout(endTimer)
    if (graceTimer !== undefined) clock.clearTimeout(graceTimer)
    plan.signal?.removeEventListener('abort', onSignal)
    pool?.destroy()
    await agent.destroy().catch(() => {})
  }
  // The last partial second, so the timeline adds up to the totals.
  if (stats.requests > stats.timeline.reduce((n, p) => n + p.requests, 0)) stats.closeInterval(second + 1)

  const figures = liveFigures(stats, stats.endedAt)
  const thresholds = plan.thresholds.map((t) => evaluate(t, figures))
  const durationMs = stats.endedAt - start
  return {
    format: REPORT_FORMAT,
    name: plan.name,
    target: plan.target.href,
    model: plan.model,
    startedAt: new Date(wallStart).toISOString(),
    durationMs: Math.round(durationMs),
    plan: {
      stages: [...plan.stages],
      vus: plan.vus,
      thinkMs: plan.thinkMs,
      connections: plan.connections,
      pipelining: plan.pipelining,
      client: plan.client,
      pacing: plan.model === 'open' ? plan.pacing : undefined,
      timeoutMs: plan.timeoutMs,
      maxInFlight: plan.maxInFlight,
      lateAfterMs: plan.lateAfterMs,
    },
    requests: stats.requests,
    errors: stats.errors,
    errorRate: stats.errorRate,
    rps: figures.rps,
    bytes: stats.bytes,
    statuses: stats.statuses,
    errorKinds: stats.errorKinds,
    sends: { ...stats.sends, delay: stats.sendDelay.summary() },
    latency: { corrected: stats.corrected.summary(), uncorrected: stats.uncorrected.summary() },
    histograms: {
      corrected: stats.corrected.encode(),
      uncorrected: stats.uncorrected.encode(),
      sendDelay: stats.sendDelay.encode(),
    },
    timeline: stats.timeline,
    thresholds,
    passed: thresholds.every((t) => t.ok) && stopped?.reason !== 'threshold',
    stopped,
    runs: 1,
    server: scrapeUrl === undefined || server.length === 0 ? undefined : { url: scrapeUrl, samples: server },
  }
}

/**
 * One HEAD request before the clock starts: a target that does not answer is reported at once
 * (not as a run of errors), and undici's parser is compiled before the first timed send (it
 * blocks the loop for ~100 ms on first use, which would show as a stall at the start).
 */
async function preflight(agent: Agent, target: URL, timeoutMs: number): Promise<void> {
  try {
    const res = await agent.request({
      origin: target.origin,
      path: target.pathname + target.search,
      method: 'HEAD',
      headersTimeout: timeoutMs,
    })
    await res.body.dump()
  } catch (err) {
    await agent.destroy().catch(() => {})
    const e = err as { code?: string; message?: string }
    throw new ScenarioError(
      { field: 'target' },
      `${target.href} does not answer (${e.code ?? e.message}); start the server or fix the URL`,
    )
  }
}

function liveFigures(stats: Stats, now: number): Figures {
  const s = stats.corrected
  return {
    percentile: (p) => s.at(p),
    mean: s.count === 0 ? 0 : s.hdr.mean / 1000,
    min: s.at(0),
    max: s.at(100),
    requests: stats.requests,
    errors: stats.errors,
    rps: stats.throughput(now),
    scheduled: stats.sends.scheduled,
    dropped: stats.sends.dropped,
  }
}
