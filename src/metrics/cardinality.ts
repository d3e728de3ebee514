/**
 * Label cardinality guard: each metric keeps at most `max` distinct label sets; further ones are
 * folded into one series whose labels all read '__overflow__', with a single warning per
 * metric, so a flood of distinct label values (user ids in a label, random paths) cannot grow
 * memory without bound.
 */

/** Label values of one observation. */
export type Labels = Record<string, string | number>

/** Tracks label sets per metric. */
export class CardinalityGuard {
  private readonly seen = new Map<string, Set<string>>()
  /** Observations folded into overflow series, by metric. */
  readonly dropped = new Map<string, number>()

  constructor(
    private readonly max: number,
    private readonly warn: (message: string) => void,
  ) {}

  /** The labels to record: `labels` itself, or the overflow label set once the metric is full. */
  admit(metric: string, labels: Labels | undefined, labelNames: readonly string[]): Labels | undefined {
    if (labels === undefined || labelNames.length === 0) return labels
    let set = this.seen.get(metric)
    if (set === undefined) {
      set = new Set()
      this.seen.set(metric, set)
    }
    const key = keyOf(labels, labelNames)
    if (set.has(key)) return labels
    if (set.size < this.max) {
      set.add(key)
      return labels
    }
    const before = this.dropped.get(metric) ?? 0
    this.dropped.set(metric, before + 1)
    if (before === 0) {
      this.warn(
        `metric "${metric}" reached ${this.max} label sets; further ones are recorded as "__overflow__". Remove unbounded values (ids, raw paths) from its labels or raise maxSeriesPerMetric.`,
      )
    }
    const overflow: Labels = {}
    for (const n of labelNames) overflow[n] = '__overflow__'
    return overflow
  }

  /** Forgets a label set (its series was removed); false if it was never admitted. */
  forget(metric: string, labels: Labels, labelNames: readonly string[]): boolean {
    return this.seen.get(metric)?.delete(keyOf(labels, labelNames)) ?? false
  }

  /** Label sets held for `metric`. */
  count(metric: string): number {
    return this.seen.get(metric)?.size ?? 0
  }
}

function keyOf(labels: Labels, labelNames: readonly string[]): string {
  let key = ''
  for (const n of labelNames) key += `${labels[n] ?? ''}\u0000`
  return key
}
