/**
 * Percentiles from histogram buckets, the way Prometheus' histogram_quantile() computes them:
 * linear interpolation inside the bucket that holds the rank. Bucket counts here are per bucket
 * (not cumulative), which is what adds up across ticks and instances.
 */

/**
 * The q-quantile (0..1) of the counts in `buckets` (per bucket, the last one is +Inf) with upper
 * `bounds` (seconds, one fewer than the buckets), in milliseconds. 0 when there are no samples;
 * the highest finite bound when the rank falls in +Inf.
 */
export function quantileMs(buckets: readonly number[], bounds: readonly number[], q: number): number {
  let total = 0
  for (const c of buckets) total += c
  if (total <= 0) return 0
  const rank = q * total
  let seen = 0
  for (let i = 0; i < buckets.length; i++) {
    const c = buckets[i] as number
    if (seen + c >= rank && c > 0) {
      if (i >= bounds.length) return (bounds[bounds.length - 1] ?? 0) * 1000
      const lower = i === 0 ? 0 : (bounds[i - 1] as number)
      const upper = bounds[i] as number
      return (lower + (upper - lower) * ((rank - seen) / c)) * 1000
    }
    seen += c
  }
  return (bounds[bounds.length - 1] ?? 0) * 1000
}

/** Adds `b` into `a` element-wise (growing `a` when needed); returns `a`. */
export function addInto(a: number[], b: readonly number[]): number[] {
  for (let i = 0; i < b.length; i++) a[i] = (a[i] ?? 0) + (b[i] as number)
  return a
}
