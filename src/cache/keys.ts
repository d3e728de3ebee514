/**
 * The key encoding shared by both tiers, the invalidation bus and the Redis layout. Namespaces,
 * keys, tags and internal keys must never collide (regression: `namespace('a')` key `b:c`,
 * `namespace('a:b')` key `c` and the root key `a:b:c` were one entry, and a root key `__t:users`
 * took tag `users`' Redis set), so:
 *
 *   - a namespace is a length-prefixed segment `@<length>:<name>`; nested namespaces concatenate
 *     their segments, so a namespace's encoding is a prefix of exactly its own and its nested
 *     namespaces' keys (clear() by prefix) and of nothing else;
 *   - a key or tag that starts with `@` gets one more `@` in front, so it can never be read as a
 *     segment (`@<digit>`) nor as an internal key;
 *   - internal Redis keys start with `@` followed by a letter: `@t:` tag sets, `@l:` locks.
 *
 * A root key that does not start with `@` is stored as itself, so the hot path allocates nothing.
 */

const AT = 64 // '@'

/** The encoded segment of a namespace named `name`. */
export function nsSegment(name: string): string {
  return `@${name.length}:${name}`
}

/** The full (encoded) key or tag of `key` under the encoded namespace `ns` ('' for the root). */
export function scoped(ns: string, key: string): string {
  if (key.charCodeAt(0) === AT) return `${ns}@${key}`
  return ns === '' ? key : ns + key
}

/** True when `s` is a non-empty sequence of namespace segments (what a clear message may carry). */
export function isNamespacePrefix(s: string): boolean {
  let i = 0
  while (i < s.length) {
    if (s.charCodeAt(i) !== AT) return false
    let j = i + 1
    while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++
    if (j === i + 1 || j - i > 11 || s.charCodeAt(j) !== 58) return false
    const len = Number(s.slice(i + 1, j))
    if (len === 0) return false
    i = j + 1 + len
  }
  return s.length > 0 && i === s.length
}

/**
 * False for strings with lone surrogates: Redis stores keys as UTF-8, where every lone surrogate
 * becomes U+FFFD, so `'a\uD800'` and `'a\uDBFF'` would share one L2 entry (regression).
 */
export function wellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed()
}
