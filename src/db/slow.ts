/**
 * The slow-query log: a statement over the threshold is recorded with its plan, captured by
 * running EXPLAIN (FORMAT JSON) on it afterwards, in the background (the caller already has its
 * result). EXPLAIN ANALYZE runs the statement again, so it is used only for reads and only for a
 * sampled share of them. Costs one comparison per statement under the threshold.
 */
import type { Runner } from './driver.js'

/** One slow statement. */
export interface SlowQuery {
  /** The statement text (parameter values are never logged: they may be secrets). */
  text: string
  fingerprint: string
  durationMs: number
  /** When it finished (ms since the epoch). */
  at: number
  /** The plan, as EXPLAIN (FORMAT JSON) returned it; undefined when capture failed or was off. */
  plan: unknown
  /** True when the plan came from EXPLAIN ANALYZE. */
  analyzed: boolean
  /** Why the plan is missing, when it is. */
  planError: string | undefined
}

/** Settings (resolved). */
export interface SlowSettings {
  readonly thresholdMs: number
  readonly explain: boolean
  readonly analyzeSampleRate: number
  readonly keep: number
}

/** Keeps the last `keep` slow statements and captures their plans. */
export class SlowLog {
  private readonly ring: SlowQuery[] = []
  /** Plans being captured (so close() and tests can wait for them). */
  readonly pending = new Set<Promise<void>>()
  captured = 0

  constructor(
    readonly settings: SlowSettings,
    private readonly emit: (q: SlowQuery) => void,
  ) {}

  /** Records a slow statement; the plan is captured in the background on `runner`. */
  record(
    text: string,
    fingerprint: string,
    params: readonly unknown[],
    durationMs: number,
    isRead: boolean,
    runner: Runner,
  ): void {
    const q: SlowQuery = {
      text,
      fingerprint,
      durationMs,
      at: Date.now(),
      plan: undefined,
      analyzed: false,
      planError: this.settings.explain ? undefined : 'explain is off',
    }
    this.ring.push(q)
    if (this.ring.length > this.settings.keep) this.ring.shift()
    if (!this.settings.explain) {
      this.emit(q)
      return
    }
    const analyze = isRead && Math.random() < this.settings.analyzeSampleRate
    const p = runner
      .run(`EXPLAIN (FORMAT JSON${analyze ? ', ANALYZE, TIMING OFF' : ''}) ${text}`, params, undefined)
      .then(
        (r) => {
          const row = r.rows[0] ?? {}
          const raw = row['QUERY PLAN'] ?? Object.values(row)[0]
          q.plan = typeof raw === 'string' ? JSON.parse(raw) : raw
          q.analyzed = analyze
          this.captured++
        },
        (err: unknown) => {
          q.planError = err instanceof Error ? err.message : String(err)
        },
      )
      .then(() => {
        this.pending.delete(p)
        this.emit(q)
      })
    this.pending.add(p)
  }

  /** The recorded slow statements, oldest first. */
  list(): SlowQuery[] {
    return [...this.ring]
  }

  /** Resolves when every plan capture started so far has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending])
  }
}
