/**
 * Multi-core generation: the plan split over worker threads (rates, users, connections and the
 * in-flight bound divided evenly), each a full generator with its own undici agent and
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
  const split = (n: number | undefined, min = 1): number | undefined =>
    n === undefined ? undefined : Math.max(min, Math.round(n / workers))
  const part: LoadTestOptions = {
    ...rest,
    rate:
      typeof rest.rate === 'number'
        ? rest.rate / workers
        : typeof rest.rate === 'string'
          ? rest.rate
              .split('-')
              .map((r) => Number(r) / workers)
              .join('-')
          : undefined,
    stages: rest.stages?.map((s) => ({
      ...s,
      ...(s.rate === undefined ? {} : { rate: s.rate / workers }),
      ...(s.from === undefined ? {} : { from: s.from / workers }),
      ...(s.to === undefined ? {} : { to: s.to / workers }),
    })),
    stairs:
      rest.stairs === undefined
        ? undefined
        : { ...rest.stairs, from: rest.stairs.from / workers, step: rest.stairs.step / workers },
    vus: split(rest.vus),
    connections: split(rest.connections),
    maxInFlight: split(rest.maxInFlight),
  }
  const threads = Array.from({ length: workers }, () => newWorker())
  const onAbort = (): void => {
    for (const t of threads) t.postMessage({ stop: true })
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const reports = await Promise.all(
      threads.map(
        (t) =>
          new Promise<LoadTestReport>((resolve, reject) => {
            t.once('message', (m: { report?: LoadTestReport; error?: string }) => {
              if (m.report !== undefined) resolve(m.report)
              else reject(new ScenarioError({ field: 'target' }, m.error ?? 'worker failed'))
            })
            t.once('error', reject)
            t.postMessage({ run: JSON.parse(JSON.stringify(part)) })
          }),
      ),
    )
    const merged = mergeReports(reports)
    // The plan as asked for (the sum of the workers' shares), not one worker's share.
    const p = merged.plan
    merged.plan = {
      ...p,
      stages: p.stages.map((s) => ({ ...s, from: s.from * workers, to: s.to * workers })),
      vus: p.vus * workers,
      connections: p.connections * workers,
      maxInFlight: p.maxInFlight * workers,
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
