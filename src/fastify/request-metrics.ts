/**
 * Request metrics of the plugin: `http_request_duration_seconds` by route, method and status
 * class, and `http_requests_in_flight`. Each route binds its series once per method and status
 * class, so a request costs a bucket search and a few additions, not a label-set hash (the
 * monitor's bound histogram and live gauge).
 */
import type { BoundHistogram, BoundSeries, LiveGauge, Monitor } from '../metrics/index.js'

/** The plugin's metrics on one monitor. */
export interface RequestMetrics {
  duration: BoundHistogram
  inflight: LiveGauge
  shed: { inc(labels?: Record<string, string>): void }
}

export function requestMetrics(monitor: Monitor): RequestMetrics {
  return {
    duration: monitor.boundHistogram(
      `${monitor.prefix}http_request_duration_seconds`,
      'HTTP request duration by route, method and status class',
      ['route', 'method', 'status_class'],
    ),
    inflight: monitor.liveGauge(`${monitor.prefix}http_requests_in_flight`, 'HTTP requests being served'),
    shed: monitor.counter(`${monitor.prefix}http_requests_shed_total`, 'Requests refused by load shedding', [
      'route',
    ]),
  }
}

/** One route's duration series, bound on first use: by status class for its first method, by key for others. */
export class RouteDurations {
  private readonly byClass: (BoundSeries | undefined)[] = [
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ]
  private readonly others = new Map<string, BoundSeries>()

  constructor(
    private readonly histogram: BoundHistogram,
    private readonly route: string,
    private readonly method: string,
  ) {}

  observe(method: string, status: number, seconds: number): void {
    const cls = Math.floor(status / 100)
    if (method === this.method && cls >= 1 && cls <= 5) {
      let s = this.byClass[cls]
      if (s === undefined) {
        s = this.bind(method, cls)
        this.byClass[cls] = s
      }
      s.observe(seconds)
      return
    }
    const key = `${method} ${cls}`
    let s = this.others.get(key)
    if (s === undefined) {
      s = this.bind(method, cls)
      this.others.set(key, s)
    }
    s.observe(seconds)
  }

  private bind(method: string, cls: number): BoundSeries {
    return this.histogram.bind({ route: this.route, method, status_class: `${cls}xx` })
  }
}
