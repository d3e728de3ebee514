/**
 * How messages sit in the Redis streams. An entry is either one message, field `m` (the JSON
 * envelope: the first wire format, still written for single messages and read forever), or a
 * pack, field `b` (a JSON array of envelopes): the messages a producer published to one stream
 * in one event-loop turn, so a batch of N costs one XADD, one read slot and one ack. A delivered
 * pack is settled as a whole: its messages' outcomes are collected and applied in one step when
 * the last one is known (see FINISH).
 */
import { envelopeFault } from './envelope.js'
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

/** A message of an entry that is not one (someone else wrote it): it becomes a dead letter. */
export class Malformed {
  constructor(
    /** What was there: the parsed value, or the text when it was not JSON. */
    readonly raw: unknown,
    readonly fault: string,
  ) {}
}

const checked = (v: unknown): Envelope | Malformed => {
  const fault = envelopeFault(v)
  return fault === undefined ? (v as Envelope) : new Malformed(v, fault)
}

/**
 * The messages of an entry's fields (`m` one, `b` a pack); [] for an unknown field. What is not
 * a message (not JSON, the wrong shape, a pack that is not an array) comes back as Malformed
 * (regression: it threw in the read loop, stalling the consumer).
 */
export function decode(fields: readonly string[]): Array<Envelope | Malformed> {
  const name = fields[0]
  if (name !== 'm' && name !== 'b') return []
  const text = fields[1] as string
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return [new Malformed(text, 'not JSON')]
  }
  if (name === 'm') return [checked(v)]
  return Array.isArray(v) ? v.map(checked) : [new Malformed(v, 'a pack that is not an array')]
}
