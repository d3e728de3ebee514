/**
 * The planted-needs benchmark for the index advisor: a schema generated with generate_series
 * (orders: n rows, events: n rows, customers: n/10, hot: n/10, items: n/2, tiny: 20), a workload
 * with 12 planted needs (6 single-column, 3 two-column, 1 three-column, 1 partial, 1 covering) and
 * 5 decoys (a low-selectivity column, a tiny table, a write-hot table, a query an existing index
 * prefix already serves, LIKE '%x%'). Each need uses its own columns, so finding one never hides
 * another. The bench runs it with n = 1,000,000; the test with a small n.
 */
import type { AdviceReport, WorkloadEntry } from '../src/db/index.js'

/** Statements that build the schema for `n` rows (then VACUUM ANALYZE, for index-only scans). */
export function plantedSchema(n: number): string[] {
  const c = Math.max(100, Math.floor(n / 10))
  return [
    `CREATE TABLE orders (id int PRIMARY KEY, customer_id int, sku text, region int, created_at timestamp,
      status text, due_date date, total numeric, flag boolean, note text)`,
    `INSERT INTO orders SELECT g, (g::bigint * 7919) % ${c}, 'sku-' || ((g::bigint * 104729) % ${Math.max(10, Math.floor(n / 5))}),
      g % 50, timestamp '2025-01-01' + ((g::bigint * 31) % 525600) * interval '1 minute',
      CASE WHEN g % 200 = 0 THEN 'open' WHEN g % 3 = 0 THEN 'done' ELSE 'shipped' END,
      date '2025-01-01' + (g % 365), (g % 1000) / 10.0, g % 2 = 0, 'note ' || g
      FROM generate_series(1, ${n}) g`,
    `CREATE TABLE customers (id int PRIMARY KEY, email text, region int, tier int, country int, city int,
      signup timestamp, name text)`,
    `INSERT INTO customers SELECT g, 'user' || g || '@example.com', g % 50, g % 5, (g::bigint * 13) % 200,
      (g::bigint * 17) % 1000, timestamp '2020-01-01' + ((g::bigint * 7) % 2000000) * interval '1 minute', 'name ' || g
      FROM generate_series(1, ${c}) g`,
    `CREATE TABLE events (id int PRIMARY KEY, user_id int, kind int, at timestamp, session int,
      account int, channel int, seq_no int, payload text)`,
    `INSERT INTO events SELECT g, (g::bigint * 7907) % ${c}, g % 20, timestamp '2025-01-01' + ((g::bigint * 37) % 525600) * interval '1 minute',
      (g::bigint * 7883) % ${Math.max(10, Math.floor(n / 1000))}, (g::bigint * 7877) % ${Math.max(10, Math.floor(n / 1000))}, g % 10, g, 'p' || g
      FROM generate_series(1, ${n}) g`,
    'CREATE TABLE hot (id int PRIMARY KEY, k int, v int)',
    `INSERT INTO hot SELECT g, (g::bigint * 31) % ${c}, 0 FROM generate_series(1, ${c}) g`,
    'CREATE TABLE items (id int PRIMARY KEY, cat int, price numeric, name text)',
    `INSERT INTO items SELECT g, g % ${Math.max(10, Math.floor(n / 200))}, g % 500, 'item ' || g FROM generate_series(1, ${Math.floor(n / 2)}) g`,
    'CREATE INDEX items_cat_price ON items (cat, price)',
    'CREATE TABLE tiny (id int PRIMARY KEY, code text)',
    "INSERT INTO tiny SELECT g, 'c' || g FROM generate_series(1, 20) g",
    'VACUUM ANALYZE',
  ]
}

/** A planted need: an index on `table` whose keys start with `columns` (any order when `anyOrder`). */
export interface Need {
  id: string
  kind: 'single' | 'two-column' | 'three-column' | 'partial' | 'covering'
  table: string
  columns: string[]
  anyOrder?: boolean
  where?: RegExp
  include?: string[]
}

/** The 12 planted needs. */
export const NEEDS: readonly Need[] = [
  { id: 'S1', kind: 'single', table: 'orders', columns: ['customer_id'] },
  { id: 'S2', kind: 'single', table: 'customers', columns: ['email'] },
  { id: 'S3', kind: 'single', table: 'events', columns: ['user_id'] },
  { id: 'S4', kind: 'single', table: 'orders', columns: ['sku'] },
  { id: 'S5', kind: 'single', table: 'events', columns: ['at'] },
  { id: 'S6', kind: 'single', table: 'customers', columns: ['signup'] },
  { id: 'M1', kind: 'two-column', table: 'orders', columns: ['region', 'created_at'] },
  { id: 'M2', kind: 'two-column', table: 'customers', columns: ['country', 'city'], anyOrder: true },
  { id: 'M3', kind: 'two-column', table: 'events', columns: ['session', 'kind'], anyOrder: true },
  { id: 'T1', kind: 'three-column', table: 'events', columns: ['account', 'channel', 'seq_no'] },
  { id: 'P1', kind: 'partial', table: 'orders', columns: ['due_date'], where: /status.*open/ },
  { id: 'C1', kind: 'covering', table: 'customers', columns: ['region'], include: ['tier', 'name'] },
]

/** Decoys: a suggestion on one of these (table, and column when given) is a false positive. */
export const DECOYS: ReadonlyArray<{ id: string; table: string; column?: string }> = [
  { id: 'low-selectivity', table: 'orders', column: 'flag' },
  { id: 'tiny-table', table: 'tiny' },
  { id: 'write-hot', table: 'hot' },
  { id: 'prefix-served', table: 'items' },
  { id: 'like-infix', table: 'orders', column: 'note' },
]

/** The workload: each need and decoy with sample parameters and a call count. */
export function plantedWorkload(n: number): WorkloadEntry[] {
  const c = Math.max(100, Math.floor(n / 10))
  return [
    { text: 'SELECT * FROM orders WHERE customer_id = $1', params: [42], calls: 100 },
    { text: 'SELECT id FROM customers WHERE email = $1', params: ['user77@example.com'], calls: 100 },
    { text: 'SELECT * FROM events WHERE user_id = $1', params: [77], calls: 100 },
    { text: 'SELECT * FROM orders WHERE sku = $1', params: ['sku-123'], calls: 100 },
    {
      text: 'SELECT count(*) FROM events WHERE at BETWEEN $1 AND $2',
      params: ['2025-06-01 10:00', '2025-06-01 11:00'],
      calls: 100,
    },
    { text: 'SELECT * FROM customers WHERE signup > $1', params: ['2023-10-20'], calls: 100 },
    {
      text: 'SELECT * FROM orders WHERE region = $1 AND created_at > $2',
      params: [7, '2025-12-28'],
      calls: 100,
    },
    { text: 'SELECT * FROM customers WHERE country = $1 AND city = $2', params: [13, 17], calls: 100 },
    { text: 'SELECT * FROM events WHERE session = $1 AND kind = $2', params: [3, 3], calls: 100 },
    {
      text: 'SELECT * FROM events WHERE account = $1 AND channel = $2 ORDER BY seq_no LIMIT 10',
      params: [5, 3],
      calls: 100,
    },
    {
      text: "SELECT * FROM orders WHERE status = 'open' AND due_date < $1 ORDER BY due_date LIMIT 50",
      params: ['2025-01-20'],
      calls: 100,
    },
    { text: 'SELECT tier, name FROM customers WHERE region = $1', params: [9], calls: 100 },
    // decoys
    { text: 'SELECT count(*) FROM orders WHERE flag = $1', params: [true], calls: 100 },
    { text: 'SELECT * FROM tiny WHERE code = $1', params: ['c7'], calls: 100 },
    { text: 'SELECT * FROM hot WHERE k = $1', params: [Math.floor(c / 3)], calls: 5 },
    { text: 'UPDATE hot SET v = v + 1 WHERE id = $1', params: [1], calls: 50_000 },
    { text: 'SELECT * FROM items WHERE cat = $1', params: [3], calls: 100 },
    { text: "SELECT * FROM orders WHERE note LIKE '%77%'", params: [], calls: 100 },
  ]
}

/** How a report scores: needs found, decoys suggested. */
export interface PlantedScore {
  found: string[]
  missed: string[]
  decoys: string[]
  /** One line per suggestion, normalized (table(keys) include where), to compare backends. */
  signature: string[]
}

function bare(table: string): string {
  return table.slice(table.indexOf('.') + 1)
}

/** Scores an advisor report against the planted needs and decoys. */
export function scorePlanted(report: AdviceReport): PlantedScore {
  const found: string[] = []
  const missed: string[] = []
  for (const need of NEEDS) {
    const hit = report.suggestions.some((s) => {
      if (bare(s.table) !== need.table) return false
      const head = s.columns.slice(0, need.columns.length)
      const keysOk = need.anyOrder
        ? head.length === need.columns.length && need.columns.every((c) => head.includes(c))
        : need.columns.every((c, i) => head[i] === c)
      if (!keysOk) return false
      if (need.where !== undefined && (s.where === undefined || !need.where.test(s.where))) return false
      if (need.include !== undefined && !need.include.every((c) => s.include.includes(c))) return false
      if (need.kind === 'three-column' && s.columns.length < 3) return false
      return true
    })
    ;(hit ? found : missed).push(need.id)
  }
  const decoys = DECOYS.filter((d) =>
    report.suggestions.some(
      (s) =>
        bare(s.table) === d.table &&
        (d.column === undefined || s.columns.includes(d.column) || s.include.includes(d.column)),
    ),
  ).map((d) => d.id)
  const signature = report.suggestions
    .map(
      (s) =>
        `${bare(s.table)}(${s.columns.join(',')})${s.include.length > 0 ? ` include(${s.include.join(',')})` : ''}${s.where === undefined ? '' : ` where ${s.where}`}`,
    )
    .sort()
  return { found, missed, decoys, signature }
}
