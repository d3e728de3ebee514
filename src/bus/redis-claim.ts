/**
 * Take-over and heartbeat of the Redis Streams transport. A consumer that dies leaves its
 * entries pending; a live one takes them with XAUTOCLAIM once idle `claimIdle` (the CLAIM script
 * also returns each entry's delivery count, which raises the messages' attempts). A taken-over
 * pack is split into single entries first (SPLIT), so a poison message does not take its pack
 * to the dead letters. The heartbeat re-claims a live consumer's long-running entries to itself
 * (XCLAIM JUSTID: the delivery count stays) so they never look idle, like JetStream's `working()`.
 */
import type { Cluster, Redis } from 'ioredis'
import { decode, type Entry, encode, Malformed } from './redis-wire.js'

/** The consumer-group name. */
export const GROUP = 'hp'

/** What the take-over needs of one subscription. */
export interface Claimer {
  inbox: string
  keys: readonly string[]
  stopped: boolean
  /** Free room in messages. */
  room(): number
  /** Delivers entries read from `stream` (single messages only), with their delivery counts. */
  take(stream: string, entries: Array<[string, string[] | null]>, deliveries: readonly number[]): number
  /** Counts messages taken over, as each step of a sweep lands (a failed sweep keeps its count). */
  taken(n: number): void
}

type Scripted = (Redis | Cluster) & {
  hpBusClaim(...args: Array<string | number>): Promise<[string, Array<[string, string[] | null]>, number[]]>
  hpBusSplit(...args: Array<string | number>): Promise<number>
}

/** Takes idle entries over for `c`, urgent class first, counting them through `c.taken`. */
export async function reclaim(redis: Redis | Cluster, c: Claimer, claimIdle: number): Promise<void> {
  const cmd = redis as Scripted
  for (const key of c.keys) {
    let room = c.room()
    let cursor = '0-0'
    do {
      if (room <= 0 || c.stopped) return
      const r = await cmd.hpBusClaim(key, GROUP, c.inbox, claimIdle, cursor, Math.min(room, 200))
      cursor = r[0]
      const singles: Array<[string, string[] | null]> = []
      const counts: number[] = []
      // the packs' splits go out together (pipelined on the connection), not one round trip each
      const splits: Array<Promise<number>> = []
      const sizes: number[] = []
      const packs: Array<[string, number]> = []
      for (let i = 0; i < r[1].length; i++) {
        const [id, fields] = r[1][i] as [string, string[] | null]
        if (fields === null) continue // deleted while pending
        const deliveries = Math.max(2, r[2][i] ?? 2)
        const envs = decode(fields)
        if (envs.length <= 1) {
          singles.push([id, fields])
          counts.push(deliveries)
          continue
        }
        // a pack: one entry per message, attempts raised by the deliveries that did not finish
        // (what is not a message is split off as it was: a dead letter when it is read)
        const members = envs.map((e) =>
          e instanceof Malformed
            ? JSON.stringify(e.raw)
            : encode({ ...e, attempt: e.attempt + deliveries - 1 }),
        )
        splits.push(cmd.hpBusSplit(key, GROUP, id, ...members))
        sizes.push(envs.length)
        packs.push([id, deliveries])
      }
      // a split that fails (Redis out of memory: XADD is refused) leaves its pack claimed here and
      // taken over again later; the singles this sweep claimed run now all the same (regression:
      // they were left claimed but never delivered, and every sweep counted a delivery against them)
      let failed: unknown
      const outcomes = await Promise.allSettled(splits)
      for (let i = 0; i < outcomes.length; i++) {
        const o = outcomes[i] as PromiseSettledResult<number>
        if (o.status === 'rejected') {
          failed ??= o.reason
          // the claim counted a delivery that never happened: put the count back (XCLAIM is not
          // refused when Redis is out of memory), so an outage does not wear the pack's attempts
          // down to a dead letter (regression: each sweep of the outage raised them by one)
          const [id, deliveries] = packs[i] as [string, number]
          await cmd
            .call('XCLAIM', key, GROUP, c.inbox, 0, id, 'RETRYCOUNT', deliveries - 1, 'JUSTID')
            .catch(() => {})
          continue
        }
        c.taken(sizes[i] as number)
        room -= sizes[i] as number
      }
      // counted before a failed split ends the sweep (regression: the singles it delivered and
      // the splits that landed were not counted in the transport's `reclaimed`)
      if (singles.length > 0) {
        const n = c.take(key, singles, counts)
        c.taken(n)
        room -= n
      }
      if (failed !== undefined) throw failed
    } while (cursor !== '0-0')
  }
}

/** Keeps entries held longer than `olderThan` (epoch ms) claimed by their consumer. */
export async function heartbeat(
  redis: Redis | Cluster,
  inflight: Iterable<Entry>,
  olderThan: number,
): Promise<void> {
  const byStream = new Map<string, { consumer: string; ids: string[] }>()
  for (const e of inflight) {
    if (e.since > olderThan) continue
    const k = `${e.stream}\u0000${e.consumer}`
    let g = byStream.get(k)
    if (g === undefined) {
      g = { consumer: e.consumer, ids: [] }
      byStream.set(k, g)
    }
    g.ids.push(e.id)
  }
  for (const [k, g] of byStream) {
    const stream = k.slice(0, k.indexOf('\u0000'))
    await redis.call('XCLAIM', stream, GROUP, g.consumer, 0, ...g.ids, 'JUSTID')
  }
}
