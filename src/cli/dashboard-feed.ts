/**
 * `hotpath loadtest --dashboard <url>`: posts the run's figures, once a second, to a hotpath
 * dashboard's ingest endpoint (`POST <prefix>/ingest`, docs/dashboard.md), so the page draws the
 * load test on the same time axis as the server's own figures. The load test never waits on it:
 * at most one post is in flight (a second that finds one still pending is skipped), a post has
 * 2 s, and a failure is counted, reported on stderr the first time only, and summed up at the end.
 */
import type { LiveFigures, TimelinePoint } from '../loadtest/index.js'
import { UsageError } from './args.js'
import type { CliIo } from './io.js'

/** Environment variable read for the bearer token when `--dashboard-token` is not given. */
export const DASHBOARD_TOKEN_ENV = 'HOTPATH_DASHBOARD_TOKEN'

/** The longest a post may take (the next second's figures are due by then anyway). */
const POST_TIMEOUT_MS = 2000

/** What the feed did, for the summary line. */
export interface FeedCounts {
  /** Posts the dashboard accepted (2xx). */
  posted: number
  /** Posts that failed (refused, not answered, timed out). */
  failed: number
  /** Seconds skipped because the previous post had not finished. */
  skipped: number
  /** Why the first failure failed. */
  firstError?: string
}

/** A running feed: `push` each second's figures, `close` waits for the last post. */
export interface DashboardFeed {
  readonly url: string
  push(point: TimelinePoint, live: LiveFigures): void
  close(): Promise<FeedCounts>
}

/**
 * Resolves the ingest URL from `--dashboard`: the dashboard's page or prefix
 * (`http://host:3000/dashboard`) gets `/ingest` appended; a URL already ending in `/ingest` is
 * kept.
 */
export function ingestUrl(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(
      `--dashboard must be the dashboard's URL (such as http://127.0.0.1:3000/dashboard); received ${JSON.stringify(value)}`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--dashboard must be an http(s) URL; received ${JSON.stringify(value)}`)
  const path = url.pathname.replace(/\/+$/, '')
  url.pathname = path.endsWith('/ingest') ? path : `${path}/ingest`
  url.search = ''
  url.hash = ''
  return url.href
}

/** Checks a source name the way the dashboard does, so a bad one fails before the load starts. */
export function checkSource(source: string): string {
  if (!/^[\w.:-]{1,64}$/.test(source))
    throw new UsageError(
      `--dashboard-source must be 1-64 letters, digits or . : _ -; received ${JSON.stringify(source)}`,
    )
  return source
}

/** The figures of one second, named as the dashboard's "Load test" chart shows them. */
export function feedFigures(point: TimelinePoint, live: LiveFigures): Record<string, number> {
  return {
    rps: point.requests,
    errors: point.errors,
    p50: point.p50,
    p90: point.p90,
    p99: point.p99,
    max: point.max,
    inFlight: live.inFlight,
    dropped: live.dropped,
  }
}

/** Starts a feed to `url` (already resolved by `ingestUrl`). */
export function dashboardFeed(options: {
  url: string
  token: string | undefined
  source: string
  io: CliIo
}): DashboardFeed {
  const { url, token, source, io } = options
  const counts: FeedCounts = { posted: 0, failed: 0, skipped: 0 }
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  let pending: Promise<void> | undefined

  const fail = (why: string): void => {
    counts.failed++
    if (counts.firstError !== undefined) return
    counts.firstError = why
    io.err(
      `dashboard: posting to ${url} failed (${why}); the load test goes on, further failures are counted`,
    )
  }

  const post = async (body: string): Promise<void> => {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
      })
      const text = await res.text()
      if (res.ok) counts.posted++
      else fail(`${res.status}${res.status === 401 ? ': wrong or missing token' : `: ${text.slice(0, 200)}`}`)
    } catch (err) {
      const e = err as { name?: string; message?: string; cause?: { code?: string } }
      fail(e.name === 'TimeoutError' ? 'no answer within 2 s' : (e.cause?.code ?? e.message ?? String(err)))
    }
  }

  return {
    url,
    push(point, live) {
      if (pending !== undefined) {
        counts.skipped++
        return
      }
      const body = JSON.stringify({ source, figures: feedFigures(point, live) })
      pending = post(body).finally(() => {
        pending = undefined
      })
    },
    async close() {
      await pending
      return { ...counts }
    },
  }
}

/** The end-of-run line, or undefined when every post went through. */
export function feedSummary(counts: FeedCounts, url: string): string | undefined {
  if (counts.failed === 0 && counts.skipped === 0) return undefined
  const total = counts.posted + counts.failed
  return `dashboard: ${counts.failed} of ${total} posts to ${url} failed${counts.firstError === undefined ? '' : ` (first: ${counts.firstError})`}${counts.skipped > 0 ? `; ${counts.skipped} seconds skipped while a post was pending` : ''}`
}

/** The `--dashboard` feed, when asked for (flags checked before any load). */
export function startFeed(
  v: { dashboard?: string; 'dashboard-token'?: string; 'dashboard-source'?: string },
  io: CliIo,
  workers: number,
): DashboardFeed | undefined {
  if (v.dashboard === undefined) {
    if (v['dashboard-token'] !== undefined || v['dashboard-source'] !== undefined)
      throw new UsageError('--dashboard-token and --dashboard-source go with --dashboard <url>')
    return undefined
  }
  if (workers > 1)
    throw new UsageError(
      '--dashboard streams each second from one generator; worker threads report at the end only (drop --workers)',
    )
  const token = v['dashboard-token'] ?? (io.env[DASHBOARD_TOKEN_ENV] || undefined)
  return dashboardFeed({
    url: ingestUrl(v.dashboard),
    token,
    source: checkSource(v['dashboard-source'] ?? 'loadtest'),
    io,
  })
}

/** Waits for the feed's last post and reports failed posts once. */
export async function endFeed(feed: DashboardFeed | undefined, io: CliIo): Promise<void> {
  if (feed === undefined) return
  const line = feedSummary(await feed.close(), feed.url)
  if (line !== undefined) io.err(line)
}
