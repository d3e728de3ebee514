/**
 * The randomized staleness harness: several lanes run operations at once against one or more
 * instances (each with its own cache) of the same database: cached reads of a table and of a view
 * over it, and writes by raw UPDATE, by a data-modifying CTE, through the view, in committed
 * transactions and in rolled-back ones. Every write stores a value never used before, so a read
 * can be checked exactly: it must return the value of the last write that finished before the
 * read started, or of a write that overlapped the read. Anything else (an older value, a
 * rolled-back value) is a stale read. The test runs a few hundred operations; the bench 10,000.
 */

/** What the harness drives: one instance of the system under test. */
export interface StaleTarget {
  /** A cached read of kv's v for `id` (undefined when the row is missing). */
  readTable(id: number): Promise<number | undefined>
  /** A cached read through the view kv_view. */
  readView(id: number): Promise<number | undefined>
  /** UPDATE kv SET v WHERE id, as raw SQL. */
  update(id: number, v: number): Promise<void>
  /** The same update inside a data-modifying CTE. */
  updateCte(id: number, v: number): Promise<void>
  /** The same update through the view. */
  updateView(id: number, v: number): Promise<void>
  /** Two updates in one committed transaction. */
  txCommit(a: [number, number], b: [number, number]): Promise<void>
  /** An update in a transaction that rolls back. */
  txRollback(id: number, v: number): Promise<void>
}

/** Statements that build the fixture (table kv, view kv_view, rows 1..keys with v = 0). */
export function fixtureSql(keys: number): string[] {
  return [
    'CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)',
    'CREATE VIEW kv_view AS SELECT id, v FROM kv WHERE v >= 0',
    `INSERT INTO kv SELECT g, 0 FROM generate_series(1, ${keys}) g`,
  ]
}

interface Write {
  v: number
  start: number
  end: number
  committed: boolean
}

/** Outcome of a run. */
export interface StaleReport {
  ops: number
  reads: number
  writes: number
  stale: number
  /** The first few stale reads, for the message. */
  examples: string[]
}

/** A seeded PRNG (mulberry32), so a failing run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Runs `ops` operations over `lanes` concurrent lanes, each picking an instance at random.
 * `settle` runs after every write before the lane goes on (for eventual modes: wait until every
 * instance heard it); omit it for read-after-write at once.
 */
export async function runStaleness(options: {
  targets: readonly StaleTarget[]
  keys: number
  ops: number
  lanes: number
  seed: number
  /** Share of operations that are reads. @default 0.6 */
  readShare?: number
  settle?: () => Promise<void>
}): Promise<StaleReport> {
  const readShare = options.readShare ?? 0.6
  const { targets, keys, ops, lanes } = options
  const rand = prng(options.seed)
  const history = new Map<number, Write[]>()
  for (let k = 1; k <= keys; k++) history.set(k, [{ v: 0, start: 0, end: 0, committed: true }])
  let nextValue = 1
  let clock = 0
  const now = () => ++clock
  let issued = 0
  const report: StaleReport = { ops: 0, reads: 0, writes: 0, stale: 0, examples: [] }

  const check = (id: number, got: number | undefined, start: number, end: number, how: string) => {
    report.reads++
    const ws = history.get(id) as Write[]
    const ok = new Set<number>()
    // a write that finished before the read started is still possible unless another write
    // started after it finished and also finished before the read (concurrent writes to one key
    // commit in an order the harness cannot see, so either may be the last)
    for (const w of ws) {
      if (!w.committed || w.end === -1 || w.end >= start) continue
      const superseded = ws.some((x) => x.committed && x.end !== -1 && x.start > w.end && x.end < start)
      if (!superseded) ok.add(w.v)
    }
    // writes that overlapped the read (committed or still running) may or may not be visible
    for (const w of ws) if (w.committed && w.start < end && (w.end === -1 || w.end >= start)) ok.add(w.v)
    if (got === undefined || !ok.has(got)) {
      report.stale++
      if (report.examples.length < 5) {
        const h = ws.map((w) => `${w.v}[${w.start}-${w.end}${w.committed ? '' : ' rolled back'}]`).join(' ')
        report.examples.push(
          `${how} id=${id} [${start}-${end}] got ${String(got)}, expected one of ${[...ok].join(',')}; writes: ${h}`,
        )
      }
    }
  }

  const begin = (id: number, v: number): Write => {
    const w: Write = { v, start: now(), end: -1, committed: true }
    ;(history.get(id) as Write[]).push(w)
    return w
  }

  const lane = async () => {
    while (issued < ops) {
      issued++
      report.ops++
      const t = targets[Math.floor(rand() * targets.length)] as StaleTarget
      const id = 1 + Math.floor(rand() * keys)
      const pick = rand()
      if (pick < readShare) {
        const viaView = rand() < 0.4
        const start = now()
        const got = viaView ? await t.readView(id) : await t.readTable(id)
        check(id, got, start, now(), viaView ? 'view read' : 'table read')
        continue
      }
      report.writes++
      // the write kinds in fixed shares: raw 25%, CTE 20%, view 20%, committed tx 20%, rolled back 15%
      const r = (pick - readShare) / (1 - readShare)
      const v = nextValue++
      if (r < 0.25) {
        const w = begin(id, v)
        await t.update(id, v)
        w.end = now()
      } else if (r < 0.45) {
        const w = begin(id, v)
        await t.updateCte(id, v)
        w.end = now()
      } else if (r < 0.65) {
        const w = begin(id, v)
        await t.updateView(id, v)
        w.end = now()
      } else if (r < 0.85) {
        const id2 = id === keys ? 1 : id + 1
        const v2 = nextValue++
        const w1 = begin(id, v)
        const w2 = begin(id2, v2)
        await t.txCommit([id, v], [id2, v2])
        w1.end = now()
        w2.end = w1.end
      } else {
        // a rolled-back value must never be read: it is recorded as not committed
        const w = begin(id, v)
        w.committed = false
        await t.txRollback(id, v).catch(() => {})
        w.end = now()
      }
      if (options.settle !== undefined) await options.settle()
    }
  }
  await Promise.all(Array.from({ length: lanes }, lane))
  return report
}
