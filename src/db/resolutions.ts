/**
 * What a client knows of its statements: each text's analysis (the PostgreSQL parser, once per
 * text, in a bounded map) and the tables it reads and writes, resolved through the catalog (views
 * to their base tables). Both hold while the '*' version they were made under holds: DDL bumps
 * '*' wherever it ran, and a client that sees another value drops them all (regression: a view
 * redefined by another instance kept its old base tables here, so writes to the new ones never
 * invalidated this instance's cached reads of the view).
 */
import { analyze } from './analyze.js'
import type { Entry, Resolved } from './cached-read.js'
import { Catalog, type CatalogQuery } from './catalog.js'
import { keyText } from './params.js'
import type { PreparedNames } from './prepared.js'
import type { VersionSource } from './versions.js'

const STAR: readonly string[] = Object.freeze(['*'])

/** The analyses and resolutions of one client. */
export class Resolutions {
  private readonly entries = new Map<string, Entry>()
  /** Names to tables (also what invalidate() and watchExternalWrites() resolve names with). */
  readonly catalog = new Catalog()
  /** The '*' version the resolutions were made under (undefined until first seen). */
  private star: number | undefined

  constructor(
    private readonly maxStatements: number,
    private readonly versions: VersionSource,
    private readonly prepared: PreparedNames,
  ) {}

  /** The entry of `text` when it was analysed already (the hot path's lookup). */
  known(text: string): Entry | undefined {
    return this.entries.get(text)
  }

  /** The analysis of `text` (parsed once; bounded map, oldest dropped first). */
  entry(text: string): Entry | Promise<Entry> {
    const hit = this.entries.get(text)
    if (hit !== undefined) return hit
    return analyze(text).then((analysis) => {
      const e: Entry = {
        text,
        analysis,
        keyText: keyText(text),
        prepared: this.prepared.nameOf(text, analysis),
        reads: undefined,
        readsKey: undefined,
        writes: undefined,
      }
      if (this.entries.size >= this.maxStatements) {
        const oldest = this.entries.keys().next().value
        if (oldest !== undefined) this.entries.delete(oldest)
      }
      this.entries.set(text, e)
      return e
    })
  }

  /**
   * The tables `e` reads ('*' first) and writes. Kept on the entry only when every name resolved;
   * otherwise (a relation that does not exist yet, or a temporary table) it is resolved again on
   * the next call, and `complete` is false: such a read is not cached.
   */
  async resolve(e: Entry, run: CatalogQuery): Promise<Resolved> {
    if (await this.syncStar()) {
      e.reads = undefined
      e.writes = undefined
    }
    if (e.reads !== undefined && e.writes !== undefined)
      return { reads: e.reads, writes: e.writes, complete: true }
    const a = e.analysis
    const r = await this.catalog.tables(a.reads, run, a.ctes)
    const w = await this.catalog.writeTables(a.writes, run, a.ctes)
    const out = { reads: ['*', ...r.tables], writes: w.tables, complete: r.complete && w.complete }
    if (out.complete) {
      e.readsKey = `${keyText(JSON.stringify(r.tables))}|${e.keyText}`
      e.reads = out.reads
      e.writes = out.writes
    }
    return out
  }

  /** Notes the '*' version seen; drops every resolution when it changed. True when it changed. */
  noteStar(v: number): boolean {
    if (this.star === v) return false
    const known = this.star !== undefined
    this.star = v
    if (known) this.clear()
    return known
  }

  /** Drops every analysis and resolution (after DDL, or when '*' moved). */
  clear(): void {
    this.catalog.clear()
    this.entries.clear()
  }

  /**
   * Before resolving names: notes the current '*' version (true when resolutions were dropped).
   * Best effort: skipped while the versions are unavailable.
   */
  private async syncStar(): Promise<boolean> {
    const vs = await this.versions.read(STAR)
    return vs !== undefined && vs[0] !== undefined && this.noteStar(vs[0])
  }
}
