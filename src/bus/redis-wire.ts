/**
 * How messages sit in the Redis streams. An entry is either one message, field `m` (the JSON
 * envelope: the first wire format, still written for single messages and read forever), or a
 * pack, field `b` (a JSON array of envelopes): the messages a producer published to one stream
 * in one event-loop turn, so a batch of N costs one XADD, one read slot and one ack. A delivered
 * pack is settled as a whole: its messages' outcomes are collected and applied in one step when
 * the last one is known (see FINISH).
 */
import type { Envelope } from './types.js'

/** A delivered stream entry: the shared handle of the messages it holds. */
export interface Entry {
  stream: string
  id: string
  /** Address the stream belongs to (its delayed set and dead letters). */
  address: string
  /** Consumer name (the bus instance's inbox). */
  consumer: string
  /** When it was read or last heartbeat-claimed. */
  since: number
  /** Messages of the entry without an outcome yet. */
  left: number
  /** Retries to park when the entry settles: score, member, score, member... */
  retries: Array<number | string>
  /** Dead letters (JSON) to append when the entry settles. */
  dead: string[]
}

/** The envelope as stored: everything but the delivery handle. */
export function serializable(env: Envelope): Omit<Envelope, 'handle'> {
  const { handle: _h, ...rest } = env
  return rest
}

/** JSON of one envelope (field `m`, a delayed member's body). */
export const encode = (env: Envelope): string => JSON.stringify(serializable(env))

/** JSON of a pack (field `b`). */
export const encodePack = (envs: readonly Envelope[]): string => JSON.stringify(envs.map(serializable))

/** The envelopes of an entry's fields (`m` one, `b` a pack); [] for an unknown field. */
export function decode(fields: readonly string[]): Envelope[] {
  const name = fields[0]
  const text = fields[1] as string
  if (name === 'm') return [JSON.parse(text) as Envelope]
  if (name === 'b') return JSON.parse(text) as Envelope[]
  return []
}
