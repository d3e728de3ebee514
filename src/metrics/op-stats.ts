/**
 * Per-operation statistics for the JSON view: count, errors, error rate, avg/min/max and
 * p50/p90/p95/p99 over the last `samples` calls. Bounded: at most `maxOperations` names are
 * kept (more are folded into '__other__'), each with a fixed ring of samples.
 */

/** Statistics of one operation. */
export interface OperationStats {
  count: number
  errors: number
  errorRate: number
  avgMs: number
  minMs: number
  maxMs: number
  p50Ms: number
  p90Ms: number
  p95Ms: number
  p99Ms: number
}

class Op {
  count = 0
  errors = 0
  sum = 0
  min = Number.POSITIVE_INFINITY
  max = 0
  readonly ring: Float64Array
  next = 0
  constructor(size: number) {
    this.ring = new Float64Array(size)
  }
}

/** Per-operation sliding statistics. */
export class OperationStatsTable {
  private readonly ops = new Map<string, Op>()

  constructor(
    private readonly samples: number,
    private readonly maxOperations: number,
  ) {}

  /** Records one call of `name` taking `ms`. */
  record(name: string, ms: number, failed: boolean): void {
    let op = this.ops.get(name)
    if (op === undefined) {
      const key = this.ops.size >= this.maxOperations ? '__other__' : name
      op = this.ops.get(key)
      if (op === undefined) {
        op = new Op(this.samples)
        this.ops.set(key, op)
      }
    }
    op.count++
    if (failed) op.errors++
    op.sum += ms
    if (ms < op.min) op.min = ms
    if (ms > op.max) op.max = ms
    op.ring[op.next % this.samples] = ms
    op.next++
  }

  /** Operations tracked. */
  get size(): number {
    return this.ops.size
  }

  /** Statistics of every operation (percentiles over the ring). */
  snapshot(): Record<string, OperationStats> {
    const out: Record<string, OperationStats> = {}
    for (const [name, op] of this.ops) {
      const n = Math.min(op.next, this.samples)
      const sorted = Array.from(op.ring.subarray(0, n)).sort((a, b) => a - b)
      const at = (q: number) => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.floor(q * n))] as number))
      out[name] = {
        count: op.count,
        errors: op.errors,
        errorRate: op.count === 0 ? 0 : op.errors / op.count,
        avgMs: op.count === 0 ? 0 : op.sum / op.count,
        minMs: op.count === 0 ? 0 : op.min,
        maxMs: op.max,
        p50Ms: at(0.5),
        p90Ms: at(0.9),
        p95Ms: at(0.95),
        p99Ms: at(0.99),
      }
    }
    return out
  }

  /** Forgets everything. */
  reset(): void {
    this.ops.clear()
  }
}
