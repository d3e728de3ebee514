/**
 * Default size estimate of an L1 entry, in bytes: key and value as V8 roughly holds them plus a
 * fixed per-entry overhead. Bounded work: at most `BUDGET` nodes are visited; what is left is
 * charged at a flat rate, so a huge object cannot make a set() slow.
 */

/** Bytes charged per entry for the Map slot and the store's arrays. */
export const ENTRY_OVERHEAD = 96
const BUDGET = 256

/** Estimated bytes of `key` and `value` together with the entry overhead. */
export function estimateEntrySize(key: string, value: unknown): number {
  return ENTRY_OVERHEAD + 16 + key.length * 2 + estimate(value)
}

function estimate(value: unknown): number {
  let budget = BUDGET
  let total = 0
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (budget-- <= 0) {
      total += 64 * (stack.length + 1)
      break
    }
    switch (typeof v) {
      case 'string':
        total += 16 + v.length * 2
        break
      case 'number':
      case 'boolean':
      case 'undefined':
        total += 8
        break
      case 'bigint':
        total += 24
        break
      case 'object': {
        if (v === null) {
          total += 8
        } else if (ArrayBuffer.isView(v)) {
          total += 64 + v.byteLength
        } else if (Array.isArray(v)) {
          total += 16 + 8 * v.length
          for (const x of v) stack.push(x)
        } else if (v instanceof Map) {
          total += 64 + 24 * v.size
          for (const [k, x] of v) stack.push(k, x)
        } else if (v instanceof Set) {
          total += 64 + 16 * v.size
          for (const x of v) stack.push(x)
        } else if (v instanceof Date) {
          total += 32
        } else {
          const keys = Object.keys(v)
          total += 24 + 8 * keys.length
          for (const k of keys) stack.push((v as Record<string, unknown>)[k])
        }
        break
      }
      default:
        total += 32
    }
  }
  return total
}
