/**
 * Which statements the pg driver runs as named prepared statements. A named statement is parsed
 * and planned once per connection, then each run sends only Bind and Execute: on a primary-key
 * read over loopback that is about 12 µs less server time per statement (postgres.js and Go's
 * pgx prepare by default for the same reason). Names are a hash of the text, so one text has
 * one name in every process; at most `max` texts get one per client (each is held on every
 * pool connection on the server), later ones run unnamed.
 */
import { createHash } from 'node:crypto'
import type { Analysis } from './analyze.js'

/** The prefix of every statement name hotpath gives (a user's own names cannot collide). */
export const PREPARED_PREFIX = 'hp_'

/** The names one client gives. */
export class PreparedNames {
  private readonly issued = new Set<string>()

  /** `max`: most distinct texts named; 0 turns naming off. */
  constructor(private readonly max: number) {}

  /** The name `text` runs under, or undefined: not one plain statement, naming off, or the cap reached. */
  nameOf(text: string, analysis: Analysis): string | undefined {
    if (this.max === 0 || !analysis.preparable) return undefined
    const name = `${PREPARED_PREFIX}${createHash('sha1').update(text).digest('base64url')}`
    if (this.issued.has(name)) return name
    if (this.issued.size >= this.max) return undefined
    this.issued.add(name)
    return name
  }

  /** How many texts have a name. */
  get size(): number {
    return this.issued.size
  }
}

/** The pg driver's renames of prepared statements whose plans went stale (at most one per name). */
export class PreparedRenames {
  /** First name to current name. */
  private readonly renamed = new Map<string, string>()
  private renames = 0

  /** The name a prepared statement runs under now: its own, or the one it got when its plan went stale. */
  current(prepared: string | undefined): string | undefined {
    // every statement asks: no lookup until some plan went stale
    if (prepared === undefined || this.renamed.size === 0) return prepared
    return this.renamed.get(prepared) ?? prepared
  }

  /**
   * The new name of a prepared statement the server can no longer run under `used`, or undefined
   * when `err` is another failure. Its result type changed under DDL (0A000, 'cached plan must
   * not change result type': every later run of that name on that connection fails the same
   * way), or the server dropped it (26000: DISCARD ALL, DEALLOCATE). The new name is parsed
   * afresh on each connection; concurrent failures of one name agree on one new name.
   */
  stale(prepared: string | undefined, used: string | undefined, err: unknown): string | undefined {
    if (prepared === undefined || used === undefined) return undefined
    const e = err as { code?: unknown; routine?: unknown; message?: unknown }
    const planChanged =
      e.code === '0A000' && (e.routine === 'RevalidateCachedQuery' || /cached plan/i.test(String(e.message)))
    if (!planChanged && e.code !== '26000') return undefined
    let next = this.renamed.get(prepared) ?? prepared
    if (next === used) {
      next = `${prepared}.${++this.renames}`
      this.renamed.set(prepared, next)
    }
    return next
  }
}
