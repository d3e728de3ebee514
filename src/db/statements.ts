/**
 * Statement statistics kept in-process, so they exist on PGlite (which cannot preload
 * pg_stat_statements) and on servers without the extension. Statements are grouped by the
 * parser's fingerprint, which strips constants: `WHERE id = 5` and `WHERE id = 7` are one row.
 * Bounded: past `max` fingerprints, the least-called half is dropped.
 */
import { Histogram, type HistogramSnapshot } from './histogram.js'

/** Figures of one statement shape. */
export interface StatementStats {
  /** The parser's fingerprint (constants stripped), or the text when it has none. */
  fingerprint: string
  /** The first text seen with this fingerprint. */
  text: string
  calls: number
  rows: number
  errors: number
  /** Calls answered from the cache (they never reached the database and are not in `time`). */
  cacheHits: number
  time: HistogramSnapshot
}

interface Row {
  text: string
  /** Parameters of the first call (kept in memory only: the index advisor EXPLAINs with them). */
  sample: readonly unknown[]
  calls: number
  rows: number
  errors: number
  cacheHits: number
  hist: Histogram
}

/** The statistics table. */
export class StatementTable {
  private readonly rows = new Map<string, Row>()

  constructor(private readonly max = 1000) {}

  private row(fp: string, text: string, params: readonly unknown[] = []): Row {
    let r = this.rows.get(fp)
    if (r === undefined) {
      if (this.rows.size >= this.max) this.shrink()
      r = { text, sample: [...params], calls: 0, rows: 0, errors: 0, cacheHits: 0, hist: new Histogram() }
      this.rows.set(fp, r)
    }
    return r
  }

  /** Records one execution that reached the database. */
  record(fp: string, text: string, ms: number, rows: number, ok: boolean, params?: readonly unknown[]): void {
    const r = this.row(fp, text, params)
    r.calls++
    r.rows += rows
    if (!ok) r.errors++
    r.hist.record(ms)
  }

  /** Records a call answered from the cache. */
  hit(fp: string, text: string): void {
    const r = this.row(fp, text)
    r.calls++
    r.cacheHits++
  }

  private shrink(): void {
    const sorted = [...this.rows.entries()].sort((a, b) => a[1].calls - b[1].calls)
    for (let i = 0; i < sorted.length / 2; i++) this.rows.delete((sorted[i] as [string, Row])[0])
  }

  /** Every row, by total time spent, largest first. */
  list(): StatementStats[] {
    const out: StatementStats[] = []
    for (const [fingerprint, r] of this.rows) {
      out.push({
        fingerprint,
        text: r.text,
        calls: r.calls,
        rows: r.rows,
        errors: r.errors,
        cacheHits: r.cacheHits,
        time: r.hist.snapshot(),
      })
    }
    return out.sort((a, b) => b.time.sumMs - a.time.sumMs)
  }

  /** Each statement shape with the parameters of its first call and its call count (for the advisor). */
  workload(): Array<{ text: string; params: readonly unknown[]; calls: number }> {
    return [...this.rows.values()].map((r) => ({ text: r.text, params: r.sample, calls: r.calls }))
  }

  /** Forgets everything. */
  reset(): void {
    this.rows.clear()
  }
}
