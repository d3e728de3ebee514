/**
 * The Redis transport's dead letters: one stream per address (`…:dlq`, field `d`, the letter as
 * JSON), trimmed approximately at `maxDeadLetters`. Listing reads them oldest first; taking them
 * (for a replay) deletes each with XDEL, which answers 1 only to the caller that removed it, so
 * two replays never both take a letter.
 */
import type { Cluster, Redis } from 'ioredis'
import { parseDeadLetter } from './envelope.js'
import type { DeadLetter, DeadLetterFilter } from './types.js'

interface Found {
  key: string
  sid: string
  d: DeadLetter
}

/** Dead letters of `addresses` matching `filter`, with their stream ids. */
export async function findDeadLetters(
  redis: Redis | Cluster,
  dlqKey: (address: string) => string,
  addresses: readonly string[],
  filter: DeadLetterFilter,
): Promise<Found[]> {
  const limit = filter.limit ?? 1000
  const ids = filter.ids === undefined ? undefined : new Set(filter.ids)
  const out: Found[] = []
  for (const address of addresses) {
    const key = dlqKey(address)
    const entries = (await redis.xrange(key, '-', '+')) as Array<[string, string[]]>
    for (const [sid, fields] of entries) {
      if (out.length >= limit) return out
      const d = parseDeadLetter(String(fields[1]))
      if (d === undefined) continue // not a dead letter (someone else's XADD)
      if (filter.type !== undefined && d.envelope.type !== filter.type) continue
      if (filter.reason !== undefined && d.reason !== filter.reason) continue
      if (ids !== undefined && !ids.has(d.id)) continue
      out.push({ key, sid, d })
    }
  }
  return out
}

/** Removes the found letters; returns those this caller removed. */
export async function takeFound(redis: Redis | Cluster, found: readonly Found[]): Promise<DeadLetter[]> {
  const taken: DeadLetter[] = []
  for (const x of found) if ((await redis.xdel(x.key, x.sid)) === 1) taken.push(x.d)
  return taken
}
