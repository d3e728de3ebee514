/**
 * Size of an L1 entry, in bytes, as V8 holds it (64-bit Node, no pointer compression, which is
 * how Node ships): what `maxBytes` and `maxEntryBytes` count. The constants were measured as the
 * retained heap of 100k copies of each shape; `npm run bench -- cache` compares a cache filled to
 * 8 MiB tracked with the heap it really retains. Not counted: the store's fixed arrays (about 58
 * bytes per `maxEntries`, allocated when the cache is created) and property names and literals
 * that V8 shares between values.
 *
 * Bounded work: at most `BUDGET` nodes are visited; what is left is charged at a flat rate, so a
 * huge object cannot make a set() slow.
 */

/** Bytes charged per entry for its Map slot (a hash table at load factor <= 2) and tag bookkeeping. */
export const ENTRY_OVERHEAD = 48
const BUDGET = 256
/** A tagged pointer: a property, element or Map slot referring to another value. */
const SLOT = 8
/** Map, hash and length words before a string's characters; strings are 8-byte aligned. */
const STRING_HEADER = 16
/** A double that is not a small integer lives in its own HeapNumber. */
const HEAP_NUMBER = 16
/** Map, properties and elements words of a plain object; its fields follow. */
const OBJECT_HEADER = 24
/** The JSArray (map, properties, elements, length) plus its elements store's header. */
const ARRAY_HEADER = 48
/** A typed array or Buffer view with its ArrayBuffer object, beside the bytes themselves. */
const VIEW_HEADER = 184
/** A Map or Set object with its empty hash table. */
const COLLECTION_HEADER = 100
/** Per element of an OrderedHashMap/Set: the entry's slots plus its share of the buckets. */
const MAP_ENTRY = 36
const SET_ENTRY = 28
/** A Date: object header, the time value and its cached calendar fields. */
const DATE = 96
/** Anything else (functions, symbols): a flat guess. */
const OTHER = 32

// any code unit above 0xff makes V8 store the whole string at two bytes per character
const TWO_BYTE = /[\u0100-\uffff]/

/** Strings up to this length are checked for two-byte content by a loop, longer ones by a regex. */
const SHORT_STRING = 64

/** Bytes of a string: one byte per character for Latin-1 content, two otherwise. */
export function stringSize(s: string): number {
  const n = s.length
  let twoByte = false
  if (n <= SHORT_STRING) {
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0xff) {
        twoByte = true
        break
      }
    }
  } else {
    twoByte = TWO_BYTE.test(s)
  }
  return (STRING_HEADER + (twoByte ? n * 2 : n) + 7) & ~7
}

/**
 * Bytes held by an entry of `key` and `value`. With a custom `sizeOf`, its answer replaces the
 * estimate of the value; an answer that is not a finite number >= 0 throws a TypeError naming
 * `memory.sizeOf` (a NaN or negative size would otherwise switch `maxBytes` off silently).
 */
export function entrySize(key: string, value: unknown, sizeOf?: (value: unknown) => number): number {
  let v: number
  if (sizeOf === undefined) v = estimateValueSize(value)
  else {
    v = sizeOf(value)
    if (typeof v !== 'number' || !(v >= 0) || v === Number.POSITIVE_INFINITY) {
      throw new TypeError(
        `memory.sizeOf must return a finite number >= 0; received ${typeof v === 'number' ? v : typeof v}`,
      )
    }
  }
  return ENTRY_OVERHEAD + stringSize(key) + v
}

/** Estimated bytes of `value` and everything it holds (up to the visiting budget). */
export function estimateValueSize(value: unknown): number {
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
        total += stringSize(v)
        break
      case 'number':
        // small integers are stored in the slot itself; other numbers get a HeapNumber
        if ((v | 0) !== v || Object.is(v, -0)) total += HEAP_NUMBER
        break
      case 'boolean':
      case 'undefined':
        break
      case 'bigint':
        total += 24
        break
      case 'object': {
        if (v === null) break
        // the common shapes first (rows, JSON): arrays, then plain objects, then the rest
        if (Array.isArray(v)) {
          const n = v.length
          total += ARRAY_HEADER + SLOT * n
          // a huge array is not copied onto the stack: what the budget cannot visit is charged flat
          const take = Math.min(n, budget)
          for (let i = 0; i < take; i++) stack.push(v[i])
          total += 64 * (n - take)
          break
        }
        const proto = Object.getPrototypeOf(v)
        if (proto === Object.prototype || proto === null) {
          // property names are shared by objects of the same shape, so only the fields count;
          // for-in needs no array of the keys (a plain object inherits nothing enumerable)
          let fields = 0
          for (const k in v) {
            fields++
            stack.push((v as Record<string, unknown>)[k])
          }
          total += OBJECT_HEADER + SLOT * fields
        } else if (ArrayBuffer.isView(v)) {
          total += VIEW_HEADER + v.byteLength
        } else if (v instanceof ArrayBuffer) {
          total += VIEW_HEADER / 2 + v.byteLength
        } else if (v instanceof Map) {
          total += COLLECTION_HEADER + MAP_ENTRY * v.size
          for (const [k, x] of v) stack.push(k, x)
        } else if (v instanceof Set) {
          total += COLLECTION_HEADER + SET_ENTRY * v.size
          for (const x of v) stack.push(x)
        } else if (v instanceof Date) {
          total += DATE
        } else {
          const keys = Object.keys(v)
          total += OBJECT_HEADER + SLOT * keys.length
          for (const k of keys) stack.push((v as Record<string, unknown>)[k])
        }
        break
      }
      default:
        total += OTHER
    }
  }
  return total
}

/**
 * The heap the store's tag index holds for one tagged entry: its slot in the slot-to-tags map,
 * the tags array, a Set element per tag, and for each tag the entry is the first to carry, a new
 * Set, its slot in the tag map and the tag string.
 */
export function tagIndexSize(tags: readonly string[], isNew: (tag: string) => boolean): number {
  let bytes = ENTRY_OVERHEAD + ARRAY_HEADER + SLOT * tags.length
  for (const t of tags) {
    bytes += SET_ENTRY
    if (isNew(t)) bytes += ENTRY_OVERHEAD + COLLECTION_HEADER + stringSize(t)
  }
  return bytes
}
