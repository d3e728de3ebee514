/**
 * `hotpath advise`: the index advisor of hotpath/db against a PostgreSQL database, for a workload
 * given as a JSON file (what `db.workload()` returns; the reference server serves its own at
 * /api/db/workload). Prints the suggested indexes, the unused and duplicate ones; `--check` exits
 * 1 when indexes are missing (for CI), `--apply` creates them CONCURRENTLY under an advisory lock.
 */
import { readFile } from 'node:fs/promises'
import { numberFlag, parseFlags, UsageError } from './args.js'
import type { CliIo } from './io.js'

const USAGE = `usage: hotpath advise --workload <file.json> [--database <url>] [options]

  --workload <file>    JSON array of { "text": "SELECT ... $1", "params": [...], "calls": n }
                       (db.workload(); the reference server serves it at /api/db/workload)
  --database <url>     PostgreSQL URL (default: DATABASE_URL)
  --budget <n>         most indexes to suggest (default 10)
  --check              exit 1 when indexes are missing (for CI)
  --apply              create the suggested indexes CONCURRENTLY (under an advisory lock)
  --json               print the report as JSON
Exit codes: 0 done (or nothing missing), 1 indexes missing with --check, 2 bad input.`

interface RawEntry {
  text?: unknown
  params?: unknown
  calls?: unknown
}

/** Reads and checks a workload file; errors name the file and the entry. */
async function readWorkload(
  file: string,
): Promise<Array<{ text: string; params: unknown[]; calls: number }>> {
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    throw new UsageError(`--workload ${file}: ${(err as Error).message}`)
  }
  if (!Array.isArray(raw)) throw new UsageError(`--workload ${file}: expected a JSON array of statements`)
  return raw.map((e: RawEntry, i) => {
    if (e === null || typeof e !== 'object' || typeof e.text !== 'string' || e.text.trim() === '') {
      throw new UsageError(`--workload ${file}: entry ${i}: "text" must be a non-empty SQL string`)
    }
    if (e.params !== undefined && !Array.isArray(e.params))
      throw new UsageError(`--workload ${file}: entry ${i}: "params" must be an array`)
    if (e.calls !== undefined && !(typeof e.calls === 'number' && e.calls >= 1))
      throw new UsageError(`--workload ${file}: entry ${i}: "calls" must be a number >= 1`)
    return {
      text: e.text,
      params: (e.params as unknown[] | undefined) ?? [],
      calls: (e.calls as number) ?? 1,
    }
  })
}

/** The verb. */
export async function adviseCommand(argv: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    workload: { type: 'string', short: 'w' },
    database: { type: 'string', short: 'd' },
    budget: { type: 'string' },
    check: { type: 'boolean' },
    apply: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  })
  if (v.help === true) {
    io.out(USAGE)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`)
  if (v.workload === undefined) throw new UsageError('--workload <file.json> is required')
  const url = v.database ?? io.env.DATABASE_URL
  if (url === undefined || !/^postgres(ql)?:\/\//.test(url)) {
    throw new UsageError(
      `--database (or DATABASE_URL) must be a postgres:// URL; received ${JSON.stringify(url ?? '')}`,
    )
  }
  if (v.check === true && v.apply === true) throw new UsageError('--check and --apply cannot be combined')
  const budget = numberFlag(v.budget, 'budget', 0, true)
  const workload = await readWorkload(v.workload)
  const { adviseIndexes, applyAdvice, createDb, formatAdvice } = await import('../db/index.js')
  const db = await createDb({ connection: url, name: 'advise', statements: false, slowQuery: false })
  try {
    const report = await adviseIndexes({ db, workload, ...(budget === undefined ? {} : { budget }) })
    io.out(v.json === true ? JSON.stringify(report, null, 2) : formatAdvice(report))
    if (v.apply === true && report.suggestions.length > 0) {
      for (const statement of await applyAdvice(db, report)) io.err(`applied: ${statement}`)
    }
    return v.check === true && report.suggestions.length > 0 ? 1 : 0
  } finally {
    await db.close()
  }
}
