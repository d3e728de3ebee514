/**
 * Helpers every options resolver shares. A misspelt option (`ttL`, `memroy`, `maxAtempts`) would
 * otherwise do nothing and say nothing, so each resolver refuses keys it does not know and names
 * the closest one it does.
 */

/** Levenshtein distance, case-insensitive: short option names only, so the O(n*m) table is fine. */
function distance(a: string, b: string): number {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  let prev = Array.from({ length: t.length + 1 }, (_, i) => i)
  for (let i = 1; i <= s.length; i++) {
    const row = [i]
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost)
    }
    prev = row
  }
  return prev[t.length] as number
}

/**
 * The known name closest to `name`, or `undefined` when none is near enough to be a likely typo
 * (more than a third of the longer name would have to change).
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of known) {
    const d = distance(name, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  if (best === undefined) return undefined
  return bestDistance <= Math.max(1, Math.ceil(Math.max(name.length, best.length) / 3)) ? best : undefined
}

/**
 * Throws a `TypeError` for the first own key of `options` that is not in `known`, naming where it
 * was found and the closest valid name: `cache options: unknown option "memroy"; did you mean
 * "memory"?`. `undefined` and `null` options pass (the resolver decides whether they may be absent).
 */
export function assertKnownKeys(options: unknown, known: readonly string[], where: string): void {
  if (options === null || typeof options !== 'object') return
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue
    const near = closestName(key, known)
    const hint = near === undefined ? ` Valid options: ${known.join(', ')}.` : ` Did you mean "${near}"?`
    throw new TypeError(`${where}: unknown option "${key}".${hint}`)
  }
}

/** What a bad value was, for an error message: `null`, `object`, `function`, or `number 42`. */
export function received(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'object' || typeof v === 'function') return typeof v
  return `${typeof v} ${String(v)}`
}

/**
 * Refuses a `signal` option that is not an AbortSignal (anything with a boolean `aborted` and
 * `addEventListener`, so another realm's or a polyfill's passes): ignored, or failing deep inside
 * with `signal.addEventListener is not a function`, it named no option.
 */
export function assertSignal(signal: unknown, option: string): void {
  if (signal === undefined) return
  const s = signal as { aborted?: unknown; addEventListener?: unknown } | null
  if (
    s === null ||
    typeof s !== 'object' ||
    typeof s.aborted !== 'boolean' ||
    typeof s.addEventListener !== 'function'
  )
    throw new TypeError(`${option} must be an AbortSignal; received ${received(signal)}`)
}

/** The message of an error, or the thrown value as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
