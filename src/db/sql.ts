/**
 * The `sql` tagged template. Every interpolated value becomes a bind parameter ($1, $2...), so a
 * value can never become SQL text. The only things that reach the text are the template's own
 * literal parts, nested `sql` fragments (renumbered) and identifiers quoted by `sql.id()`.
 */

const SQL = Symbol.for('hotpath.db.sql')
const IDENT = Symbol.for('hotpath.db.ident')

/** A parameterized statement: text with $n placeholders and the values bound to them. */
export interface SqlStatement {
  readonly text: string
  readonly values: readonly unknown[]
}

/** A statement built by the `sql` tag (also usable as a fragment inside another `sql`). */
export interface SqlFragment extends SqlStatement {
  readonly [SQL]: true
}

interface Identifier {
  readonly [IDENT]: string
}

function isFragment(v: unknown): v is SqlFragment {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[SQL] === true
}

function isIdent(v: unknown): v is Identifier {
  return typeof v === 'object' && v !== null && typeof (v as Record<symbol, unknown>)[IDENT] === 'string'
}

/**
 * Renumbers $n placeholders of a nested fragment by `offset`, outside string literals, quoted
 * identifiers, dollar-quoted strings and comments (regression: an apostrophe in a comment, as in
 * `-- don't`, was taken for the start of a string literal, so the placeholders after it kept
 * their numbers and pointed at the outer statement's values; a `$1` inside a dollar-quoted
 * string was renumbered).
 */
function shift(text: string, offset: number): string {
  if (offset === 0) return text
  let out = ''
  let i = 0
  while (i < text.length) {
    const c = text[i] as string
    let stop = -1
    if (c === "'" || c === '"') {
      // E'...' strings take backslash escapes; elsewhere a doubled quote is two adjacent literals
      const escapes = c === "'" && /[eE]/.test(text[i - 1] ?? '') && !/[A-Za-z0-9_]/.test(text[i - 2] ?? '')
      let j = i + 1
      while (j < text.length && text[j] !== c) j += escapes && text[j] === '\\' ? 2 : 1
      stop = j + 1
    } else if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i)
      stop = end < 0 ? text.length : end + 1
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      stop = end < 0 ? text.length : end + 2
    } else if (c === '$') {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i))
      if (tag !== null && !/[A-Za-z0-9_]/.test(text[i - 1] ?? '')) {
        const end = text.indexOf(tag[0], i + tag[0].length)
        stop = end < 0 ? text.length : end + tag[0].length
      } else if (/[0-9]/.test(text[i + 1] ?? '')) {
        let j = i + 1
        while (j < text.length && /[0-9]/.test(text[j] as string)) j++
        out += `$${Number(text.slice(i + 1, j)) + offset}`
        i = j
        continue
      }
    }
    if (stop < 0) {
      out += c
      i++
    } else {
      stop = Math.min(stop, text.length)
      out += text.slice(i, stop)
      i = stop
    }
  }
  return out
}

function build(strings: TemplateStringsArray, values: readonly unknown[]): SqlFragment {
  if (!Array.isArray(strings) || !Array.isArray((strings as { raw?: unknown }).raw)) {
    throw new TypeError('sql must be used as a tagged template (sql followed by a backquoted statement)')
  }
  let text = strings[0] as string
  const params: unknown[] = []
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (isFragment(v)) {
      text += shift(v.text, params.length)
      params.push(...v.values)
    } else if (isIdent(v)) {
      text += v[IDENT]
    } else {
      params.push(v)
      text += `$${params.length}`
    }
    text += strings[i + 1] as string
  }
  return Object.freeze({ text, values: Object.freeze(params), [SQL]: true as const })
}

/** Quotes one identifier, or a dotted schema.name given as several parts. */
function id(...parts: string[]): Identifier {
  if (parts.length === 0) throw new TypeError('sql.id() needs at least one name')
  for (const p of parts) {
    if (typeof p !== 'string' || p.length === 0 || p.includes('\u0000')) {
      throw new TypeError(`sql.id(): identifiers must be non-empty strings; received ${JSON.stringify(p)}`)
    }
  }
  return { [IDENT]: parts.map((p) => `"${p.replaceAll('"', '""')}"`).join('.') }
}

/** Joins fragments with a separator fragment (default `, `). */
function join(
  parts: readonly SqlFragment[],
  separator: SqlFragment = build(Object.assign([', '], { raw: [', '] }), []),
): SqlFragment {
  let acc: SqlFragment | undefined
  for (const p of parts) {
    if (!isFragment(p)) throw new TypeError('sql.join() takes fragments built with the sql tag')
    acc = acc === undefined ? p : sql`${acc}${separator}${p}`
  }
  return acc ?? build(Object.assign([''], { raw: [''] }), [])
}

/** The tag: `sql\`SELECT * FROM users WHERE id = ${id}\`` → `{ text: 'SELECT * FROM users WHERE id = $1', values: [id] }`. */
export const sql: {
  (strings: TemplateStringsArray, ...values: unknown[]): SqlFragment
  /** A quoted identifier (table or column name chosen at run time): `sql.id('public', 'users')`. */
  id: typeof id
  /** Joins fragments: `sql.join(ids.map((i) => sql\`${i}\`))` → `$1, $2, $3`. */
  join: typeof join
} = Object.assign((strings: TemplateStringsArray, ...values: unknown[]) => build(strings, values), {
  id,
  join,
})

/** True for a statement built by the `sql` tag. */
export function isSqlFragment(v: unknown): v is SqlFragment {
  return isFragment(v)
}
