/**
 * Cache keys of cached reads: the versions of the tables read, the statement (hashed when long)
 * and the parameter values, encoded so that values of different types never collide ('1' the
 * string vs 1 the number, null vs 'null').
 */
import { createHash } from 'node:crypto'

/** Longest statement text kept verbatim in a key; longer texts are hashed. */
const MAX_TEXT = 256

/** The statement's part of a key. */
export function keyText(text: string): string {
  return text.length <= MAX_TEXT ? text : `#${createHash('sha256').update(text).digest('base64url')}`
}

function one(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return `s${v.length}:${v}`
    case 'number':
      return `n${v}`
    case 'bigint':
      return `b${v}`
    case 'boolean':
      return v ? 't' : 'f'
    case 'undefined':
      return 'z'
    default:
      if (v === null) return 'z'
      if (v instanceof Date) return `d${v.getTime()}`
      if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `x${Buffer.from(v).toString('base64')}`
      if (Array.isArray(v)) {
        // element by element, so bigint, Date and Buffer elements keep their own encodings
        // (regression: JSON.stringify threw on a bigint element, and a Date element shared the
        // key of its ISO string)
        let s = `a${v.length}[`
        for (let i = 0; i < v.length; i++) s += `${one(v[i])}|`
        return `${s}]`
      }
      return jsonKey(v)
  }
}

/** An object as JSON (length-prefixed; a bigint inside, which pg cannot send either, does not throw here). */
function jsonKey(v: unknown): string {
  const j = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? 'undefined'
  return `j${j.length}:${j}`
}

/** The parameters' part of a key (hashed when long, to stay under the cache's key limit). */
export function keyParams(params: readonly unknown[]): string {
  let s = ''
  for (let i = 0; i < params.length; i++) s += `${one(params[i])}|`
  return s.length <= 512 ? s : `#${createHash('sha256').update(s).digest('base64url')}`
}
