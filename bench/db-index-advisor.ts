/**
 * Supabase's index_advisor as a peer of hotpath's advisor: its plpgsql function (vendored
 * unchanged under bench/peers/index_advisor/, PostgreSQL License) is loaded into a scratch schema
 * at run time and called once per workload statement, on the same planted schema; its
 * suggestions ("CREATE INDEX ON s.t USING btree (c)") are scored like ours. It needs HypoPG, so it
 * runs on PostgreSQL only (PGlite ships no HypoPG). By design it proposes single-column btree
 * indexes only, on a generic plan with NULL parameters, and has no cost threshold or write-cost term.
 */
import { readFileSync } from 'node:fs'
import pg from 'pg'
import type { AdviceReport, WorkloadEntry } from '../src/db/index.js'
import { DATABASE_URL } from '../test/helpers/services.js'

const SCRATCH = 'bench_peer_index_advisor'
const SQL = new URL('./peers/index_advisor/index_advisor--0.2.0.sql', import.meta.url)

/** What index_advisor proposed for a workload, shaped for scorePlanted(). */
export interface PeerAdvice {
  report: AdviceReport
  statements: string[]
  errors: string[]
  ms: number
}

/** Runs index_advisor for every statement of `workload` against the tables in `schema`. */
export async function runIndexAdvisor(
  schema: string,
  workload: readonly WorkloadEntry[],
): Promise<PeerAdvice> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS hypopg SCHEMA public')
    const hypo = (
      await client.query<{ s: string }>(
        "SELECT extnamespace::regnamespace::text AS s FROM pg_extension WHERE extname = 'hypopg'",
      )
    ).rows[0]?.s
    await client.query(`DROP SCHEMA IF EXISTS ${SCRATCH} CASCADE`)
    await client.query(`CREATE SCHEMA ${SCRATCH}`)
    await client.query(`SET search_path TO ${SCRATCH}`)
    await client.query(readFileSync(SQL, 'utf8'))
    await client.query(`SET search_path TO ${schema}, ${hypo ?? 'public'}`)
    const statements = new Set<string>()
    const errors: string[] = []
    const t0 = performance.now()
    for (const w of workload) {
      const r = await client.query<{ index_statements: string[]; errors: string[] }>(
        `SELECT index_statements, errors FROM ${SCRATCH}.index_advisor($1)`,
        [w.text],
      )
      for (const s of r.rows[0]?.index_statements ?? []) statements.add(s)
      for (const e of r.rows[0]?.errors ?? []) errors.push(`${w.text}: ${e}`)
    }
    const ms = performance.now() - t0
    const suggestions = [...statements].map((s) => {
      const m = /^CREATE INDEX ON (\S+) USING \w+ \((.+)\)$/i.exec(s)
      return { table: m?.[1] ?? s, columns: (m?.[2] ?? '').split(/,\s*/), include: [] as string[] }
    })
    return { report: { suggestions } as unknown as AdviceReport, statements: [...statements], errors, ms }
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${SCRATCH} CASCADE`).catch(() => {})
    await client.end()
  }
}
