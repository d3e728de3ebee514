/**
 * Multi-core generation: the plan split over worker threads (each sends every n-th arrival of
 * the whole schedule; users, connections and the in-flight bound divided exactly), each a full generator with its own undici agent and
 * histograms, and the reports merged exactly (`mergeReports`). Thresholds are checked on the
 * merged report; `abortOnFail` and `onProgress` are not available across workers.
 */
import { Worker } from 'node:worker_threads'
import { ScenarioError } from './errors.js'
import type { LoadTestOptions } from './options.js'
import { checkThresholds, type LoadTestReport, mergeReports } from './report.js'

/** Runs `options` on `workers` threads and merges their reports. */
export async function runLoadTestInWorkers(
  options: LoadTestOptions,
  workers: number,
): Promise<LoadTestReport> {
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`workers must be a whole number >= 1; received ${workers}`)
  const { signal, onProgress: _p, clock: _c, thresholds = [], abortOnFail: _a, ...rest } = options
  const hasFunction = (rest.steps ?? []).some(
    (s) => typeof s.path === 'function' || typeof s.body === 'function',
  )
  if (hasFunction)
    throw new ScenarioError(
      { field: 'steps' },
      'functions in steps cannot be sent to worker threads; use templates ({{var}}) or run without --workers',
    )
  // Exact shares: worker i gets floor(n / workers), plus one while the remainder lasts.
  const share = (n: number | undefined, field: string, i: number): number | undefined => {
    if (n === undefined) return undefined
    if (n < workers)
      throw new ScenarioError(
        { field },
        `${n} cannot be split over ${workers} worker threads: use at most ${n} workers`,
      )
    return Math.floor(n / workers) + (i < n % workers ? 1 : 0)
  }
  // Every worker keeps the whole schedule and sends its share of the arrivals (every
  // workers-th one): together they send exactly what one process would, evenly interleaved.
  const parts: LoadTestOptions[] = Array.from({ length: workers }, (_, i) => ({
    ...rest,
    shard: { index: i, of: workers },
    vus: share(rest.vus, 'vus', i),
    connections: share(rest.connections, 'connections', i),
    maxInFlight: share(rest.maxInFlight, 'maxInFlight', i),
  }))
  const threads = Array.from({ length: workers }, () => newWorker())
  const onAbort = (): void => {
    for (const t of threads) t.postMessage({ stop: true })
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const reports = await Promise.all(
      threads.map(
        (t, i) =>
          new Promise<LoadTestReport>((resolve, reject) => {
            t.once('message', (m: { report?: LoadTestReport; error?: string }) => {
              if (m.report !== undefined) resolve(m.report)
              else reject(new ScenarioError({ field: 'target' }, m.error ?? 'worker failed'))
            })
            t.once('error', reject)
            t.postMessage({ run: JSON.parse(JSON.stringify(parts[i])) })
          }),
      ),
    )
    const merged = mergeReports(reports)
    // The plan as asked for (the sum of the workers' shares; each ran the whole schedule's stages).
    const sum = (f: (p: LoadTestReport['plan']) => number): number =>
      reports.reduce((n, r) => n + f(r.plan), 0)
    merged.plan = {
      ...merged.plan,
      vus: sum((p) => p.vus),
      connections: sum((p) => p.connections),
      maxInFlight: sum((p) => p.maxInFlight),
    }
    return checkThresholds(merged, thresholds)
  } finally {
    signal?.removeEventListener('abort', onAbort)
    await Promise.all(threads.map((t) => t.terminate()))
  }
}

/**
 * A generator thread. From the TypeScript sources (tests, tsx) the thread registers tsx itself
 * before loading its entry: a worker does not inherit the parent's module hooks on Node 20.
 */
function newWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker-entry.js', import.meta.url))
  const entry = new URL('./worker-entry.ts', import.meta.url).href
  return new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}) })`,
    { eval: true },
  )
}
