/**
 * `hotpath loadtest`: runs a load test from flags, a preset and/or a scenario file (flags win
 * over the file, the file over the preset), prints progress and the report, writes the JSON
 * report, and exits 0 when every threshold held, 1 when one failed, 2 for bad input, 130 when
 * interrupted (the report of what ran is still printed and written).
 * `hotpath loadtest merge a.json b.json ...` merges reports of simultaneous runs exactly.
 */
import { writeFile } from 'node:fs/promises'
import {
  type BreakingPointResult,
  checkThresholds,
  compareWithBaseline,
  findBreakingPoint,
  formatMs,
  formatReport,
  type LiveFigures,
  type LoadTestOptions,
  type LoadTestReport,
  loadScenarioFile,
  mergeReports,
  PRESETS,
  preset,
  readReport,
  renderHtml,
  runLoadTest,
  runLoadTestInWorkers,
  type ScenarioSpec,
  type StepSpec,
  type TimelinePoint,
} from '../loadtest/index.js'
import type { Duration } from '../time.js'
import { numberFlag, parseFlags, UsageError } from './args.js'
import { endFeed, startFeed } from './dashboard-feed.js'
import type { CliIo } from './io.js'
import { progressPrinter } from './progress.js'

const USAGE = `usage: hotpath loadtest [url] [options]
       hotpath loadtest merge <report.json> <report.json>... [--out merged.json] [--threshold ...]

Load (one of; default: closed model, one user per connection):
  -R, --rate <n|a-b>       open model: requests per second; "100-2000" ramps over the run
      --stairs <f,s,n,d>   open model: stairs from f req/s, +s each step, n steps of d each (100,100,10,10s)
  -u, --vus <n>            closed model: virtual users
      --think <duration>   closed model: pause between a user's iterations
  -d, --duration <d>       length of the run (default 10s)
      --preset <name>      ${Object.keys(PRESETS).join(' | ')} (the seeds' scenarios, with their pass criteria)
  -s, --scenario <file>    scenario file: JSON, YAML, or a JS/TS module exporting one
Requests:
  -m, --method <verb>      HTTP method (default GET)
  -H, --header <k: v>      request header (repeatable)
  -b, --body <text>        request body
  -c, --connections <n>    connections (default 50 open, one per user closed)
  -p, --pipelining <n>     HTTP/1.1 pipelining depth (default 1)
      --timeout <d>        per-request timeout (default 10s)
      --http2              offer HTTP/2 (TLS targets, by ALPN)
      --client <c>         auto | net | undici: net is plain HTTP/1.1 on raw sockets (the fast path),
                           auto picks it for http:// targets and undici for https:// (default auto)
  -w, --workers <n>        generate from n worker threads (rates, users and connections split; reports merged exactly)
      --max-in-flight <n>  open model: outstanding requests above which a send is dropped
      --pacing <p>         open model: auto | precise (a pacer thread, sub-millisecond, a thread switch per
                           send) | timer (sends up to ~2 ms late, least CPU) | spin (sub-millisecond, a busy
                           core while sends are < 2 ms apart); auto is precise up to 5,000/s (default auto)
Breaking point:
      --breaking-point     ramp until a step breaks (achieved < 95%, p99 > --slo, errors > 1%), bisect to the
                           highest sustainable rate, report the knee and the recovery time after an overload
      --slo <d>            p99 above which a step breaks (default 1s)
      --from <n>           first ramp rate (default 50/s); --step <d> ramp step length (default 3s)
Verdicts:
  -t, --threshold <expr>   "p99 < 200ms", "errors < 1%", "rps > 1000" (repeatable); exit 1 when one fails
      --abort-on-fail      stop as soon as a latency or error threshold fails (after --abort-after, default 5s)
Output:
      --baseline <file>    compare with a previous JSON report: a regression verdict per figure (exit 1 on regression)
      --tolerance <pct>    change allowed before a figure counts as worse (default 10%)
      --scrape <url|off>   Prometheus endpoint of the target, scraped each second (default: the target's
                           /metrics when it answers as Prometheus)
      --dashboard <url>    post each second's figures to a hotpath dashboard (http://host:3000/dashboard),
                           drawn there on the server's time axis; token: --dashboard-token or $HOTPATH_DASHBOARD_TOKEN
      --dashboard-source <name>  the series name on the dashboard (default loadtest)
      --html <file>        write the self-contained HTML report (plots, no network)
  -o, --out <file>         write the JSON report (with the encoded histograms)
      --json               print the JSON report instead of the text summary
  -q, --quiet              no progress lines`

const FLAGS = {
  rate: { type: 'string', short: 'R' },
  stairs: { type: 'string' },
  vus: { type: 'string', short: 'u' },
  think: { type: 'string' },
  duration: { type: 'string', short: 'd' },
  preset: { type: 'string' },
  scenario: { type: 'string', short: 's' },
  method: { type: 'string', short: 'm' },
  header: { type: 'string', short: 'H', multiple: true },
  body: { type: 'string', short: 'b' },
  connections: { type: 'string', short: 'c' },
  pipelining: { type: 'string', short: 'p' },
  timeout: { type: 'string' },
  http2: { type: 'boolean' },
  client: { type: 'string' },
  pacing: { type: 'string' },
  'max-in-flight': { type: 'string' },
  workers: { type: 'string', short: 'w' },
  threshold: { type: 'string', short: 't', multiple: true },
  'abort-on-fail': { type: 'boolean' },
  'abort-after': { type: 'string' },
  'breaking-point': { type: 'boolean' },
  slo: { type: 'string' },
  from: { type: 'string' },
  step: { type: 'string' },
  scrape: { type: 'string' },
  baseline: { type: 'string' },
  tolerance: { type: 'string' },
  dashboard: { type: 'string' },
  'dashboard-token': { type: 'string' },
  'dashboard-source': { type: 'string' },
  html: { type: 'string' },
  out: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Exit code when interrupted (128 + SIGINT). */
const EXIT_INTERRUPTED = 130

/** The `loadtest` verb. */
export async function loadtestCommand(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'merge') return mergeCommand(argv.slice(1), io)
  const { values: v, positionals } = parseFlags(argv, FLAGS)
  if (v.help === true) {
    io.out(USAGE)
    return 0
  }
  if (positionals.length > 1) throw new UsageError(`one target URL; received ${positionals.join(' ')}`)
  let spec: ScenarioSpec = {}
  if (v.preset !== undefined) {
    const p = preset(v.preset)
    if (p === undefined)
      throw new UsageError(
        `--preset must be one of ${Object.keys(PRESETS).join(', ')}; received ${JSON.stringify(v.preset)}`,
      )
    spec = p
  }
  if (v.scenario !== undefined) {
    const file = await loadScenarioFile(v.scenario)
    // A file's own load shape replaces the preset's (one shape only).
    if (['rate', 'stages', 'stairs', 'vus'].some((k) => file[k as keyof ScenarioSpec] !== undefined)) {
      delete spec.rate
      delete spec.vus
    }
    spec = { ...spec, ...file }
  }
  const options: LoadTestOptions = { ...spec }
  if (positionals[0] !== undefined) options.target = positionals[0]
  if (v.rate !== undefined || v.stairs !== undefined || v.vus !== undefined) {
    delete options.rate
    delete options.stages
    delete options.stairs
    delete options.vus
  }
  if (v.rate !== undefined) options.rate = /^\d+(\.\d+)?$/.test(v.rate) ? Number(v.rate) : v.rate
  if (v.stairs !== undefined) options.stairs = parseStairs(v.stairs)
  const vus = numberFlag(v.vus, 'vus', 1, true)
  if (vus !== undefined) options.vus = vus
  if (v.think !== undefined) options.think = v.think as LoadTestOptions['think']
  if (v.duration !== undefined) options.duration = v.duration as LoadTestOptions['duration']
  if (v.timeout !== undefined) options.timeout = v.timeout as LoadTestOptions['timeout']
  const connections = numberFlag(v.connections, 'connections', 1, true)
  if (connections !== undefined) options.connections = connections
  const pipelining = numberFlag(v.pipelining, 'pipelining', 1, true)
  if (pipelining !== undefined) options.pipelining = pipelining
  const maxInFlight = numberFlag(v['max-in-flight'], 'max-in-flight', 1, true)
  if (maxInFlight !== undefined) options.maxInFlight = maxInFlight
  if (v.http2 === true) options.http2 = true
  if (v.client !== undefined) {
    if (!['auto', 'net', 'undici'].includes(v.client))
      throw new UsageError(`--client must be auto, net or undici; received ${JSON.stringify(v.client)}`)
    options.client = v.client as LoadTestOptions['client']
  }
  if (v.pacing !== undefined) options.pacing = v.pacing as LoadTestOptions['pacing']
  if (v.scrape !== undefined) options.scrape = v.scrape === 'off' ? false : v.scrape
  if (v['abort-on-fail'] === true) options.abortOnFail = true
  if (v['abort-after'] !== undefined) options.abortAfter = v['abort-after'] as LoadTestOptions['abortAfter']
  if (v.threshold !== undefined) options.thresholds = [...(options.thresholds ?? []), ...v.threshold]
  if (v.method !== undefined || v.header !== undefined || v.body !== undefined) {
    if (options.steps !== undefined && options.steps.length > 1)
      throw new UsageError(
        '--method, --header and --body describe a single request; the scenario file has several steps: set them there',
      )
    options.steps = [{ ...(options.steps?.[0] ?? {}), ...requestFlags(v.method, v.header, v.body) }]
  }
  if (options.target === undefined)
    throw new UsageError(
      'give the URL to load (hotpath loadtest http://127.0.0.1:3000/) or target: in the scenario',
    )

  const workers = numberFlag(v.workers, 'workers', 1, true) ?? 1
  const feed = startFeed(v, io, workers)
  if (v['breaking-point'] === true) {
    if (feed !== undefined) options.onProgress = feed.push
    return breakingPoint(options, v, io).finally(() => endFeed(feed, io))
  }
  const baseline = v.baseline === undefined ? undefined : await readReport(v.baseline)
  const tolerance = numberFlag(v.tolerance?.replace(/%$/, ''), 'tolerance', 0)
  const stop = new AbortController()
  let interrupts = 0
  const removeInterrupt = io.onInterrupt(() => {
    interrupts++
    if (interrupts === 1) {
      io.err(
        '\ninterrupted: stopping (in-flight requests get 1 s), then the report; Ctrl-C again to quit now',
      )
      stop.abort()
    } else process.exit(EXIT_INTERRUPTED)
  })
  // Worker threads report at the end only: no progress lines.
  const progress = v.quiet === true || workers > 1 ? undefined : progressPrinter(io)
  const onProgress =
    feed === undefined
      ? progress?.onProgress
      : progress === undefined
        ? feed.push
        : (point: TimelinePoint, live: LiveFigures) => {
            progress.onProgress(point, live)
            feed.push(point, live)
          }
  let report: LoadTestReport
  try {
    report =
      workers > 1
        ? await runLoadTestInWorkers({ ...options, signal: stop.signal }, workers)
        : await runLoadTest({ ...options, signal: stop.signal, onProgress })
  } finally {
    progress?.done()
    removeInterrupt()
    await endFeed(feed, io)
  }
  if (baseline !== undefined)
    report.comparison = compareWithBaseline(report, baseline, (tolerance ?? 10) / 100)
  await emit(report, io, v.out, v.json === true)
  if (v.html !== undefined) await writeHtml(report, v.html, io, v.json === true)
  if (report.stopped?.reason === 'interrupted') return EXIT_INTERRUPTED
  return report.passed && report.comparison?.regression !== true ? 0 : 1
}

async function breakingPoint(
  options: LoadTestOptions,
  v: { slo?: string; from?: string; step?: string; out?: string; json?: boolean },
  io: CliIo,
): Promise<number> {
  const {
    rate: _r,
    stages: _s,
    stairs: _st,
    vus: _v,
    duration: _d,
    thresholds: _t,
    abortOnFail: _a,
    ...rest
  } = options
  const stop = new AbortController()
  const removeInterrupt = io.onInterrupt(() => stop.abort())
  let result: BreakingPointResult
  try {
    result = await findBreakingPoint({
      ...rest,
      signal: stop.signal,
      slo: (v.slo ?? '1s') as Duration,
      from: numberFlag(v.from, 'from', 1) ?? 50,
      rampStep: (v.step ?? '3s') as Duration,
      onStep: (s) =>
        io.err(
          `${s.phase.padEnd(6)} ${String(s.rate).padStart(7)}/s  achieved ${s.achieved.toFixed(0).padStart(7)}/s  p50 ${formatMs(s.p50)}  p99 ${formatMs(s.p99)}  errors ${(s.errorRate * 100).toFixed(2)}%  ${s.ok ? 'ok' : `BROKE: ${s.reason}`}`,
        ),
    })
  } finally {
    removeInterrupt()
  }
  const text = `${JSON.stringify(result, null, 2)}\n`
  if (v.out !== undefined) await writeFile(v.out, text)
  if (v.json === true) io.out(text.trimEnd())
  else {
    io.out(
      `max sustainable rate  ${result.maxSustainable}/s${result.firstBroken === undefined ? ' (the highest rate tried held)' : ` (first broken: ${result.firstBroken}/s)`}`,
    )
    io.out(
      `knee                  ${result.knee === undefined ? 'not found (too few steps)' : `${result.knee}/s`}`,
    )
    io.out(
      `recovery              ${result.recoveryMs === undefined ? 'not measured or not reached' : `${(result.recoveryMs / 1000).toFixed(0)} s after the overload stopped`}`,
    )
    io.out(`search took           ${(result.elapsedMs / 1000).toFixed(0)} s, ${result.steps.length} steps`)
  }
  return stop.signal.aborted ? EXIT_INTERRUPTED : 0
}

async function mergeCommand(argv: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    out: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
    threshold: { type: 'string', short: 't', multiple: true },
    html: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  })
  if (v.help === true) {
    io.out(USAGE)
    return 0
  }
  if (positionals.length < 2) throw new UsageError('merge needs at least two report files')
  const reports = await Promise.all(positionals.map((file) => readReport(file)))
  let merged = mergeReports(reports)
  if (v.threshold !== undefined) merged = checkThresholds(merged, v.threshold)
  await emit(merged, io, v.out, v.json === true)
  if (v.html !== undefined) await writeHtml(merged, v.html, io, v.json === true)
  return merged.passed ? 0 : 1
}

async function emit(
  report: LoadTestReport,
  io: CliIo,
  out: string | undefined,
  json: boolean,
): Promise<void> {
  const text = `${JSON.stringify(report, null, 2)}\n`
  if (out !== undefined) await writeFile(out, text)
  io.out(json ? text.trimEnd() : formatReport(report))
  if (out !== undefined && !json) io.out(`report written to ${out}`)
}

async function writeHtml(report: LoadTestReport, file: string, io: CliIo, json: boolean): Promise<void> {
  await writeFile(file, renderHtml(report))
  if (!json) io.out(`HTML report written to ${file}`)
}

function parseStairs(value: string): ScenarioSpec['stairs'] {
  const parts = value.split(',').map((s) => s.trim())
  const [from, step, steps, every] = parts
  if (parts.length !== 4 || every === undefined)
    throw new UsageError(
      `--stairs must be from,step,steps,every (such as 100,100,10,10s); received ${JSON.stringify(value)}`,
    )
  return {
    from: numberFlag(from, 'stairs (from)', 0) as number,
    step: numberFlag(step, 'stairs (step)', 0) as number,
    steps: numberFlag(steps, 'stairs (steps)', 1, true) as number,
    every: every as NonNullable<ScenarioSpec['stairs']>['every'],
  }
}

function requestFlags(
  method: string | undefined,
  headers: string[] | undefined,
  body: string | undefined,
): StepSpec {
  const step: StepSpec = {}
  if (method !== undefined) step.method = method
  if (body !== undefined) step.body = body
  if (headers !== undefined) {
    step.headers = {}
    for (const h of headers) {
      const colon = h.indexOf(':')
      if (colon <= 0) throw new UsageError(`--header must be "name: value"; received ${JSON.stringify(h)}`)
      step.headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim()
    }
  }
  return step
}
