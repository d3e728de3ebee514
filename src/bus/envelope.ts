/**
 * Building a message's envelope from `send` options, and the checks the bus and its options
 * share (a message type, a backpressure mode). On the send path: no allocation beyond the
 * envelope, no lookup keyed by the priority's name.
 */

import { toTimerMs } from '../time.js'
import type { SendOptions } from './api.js'
import { type Backpressure, type Envelope, PRIORITIES, type Priority, type Reply } from './types.js'

/**
 * Class index of a priority name, -1 for anything else. A switch, not `PRIORITY_INDEX[name]`:
 * a lookup keyed by four different strings goes megamorphic on the send path (and would take
 * 'toString' from the prototype).
 */
function priorityIndex(name: Priority): number {
  switch (name) {
    case 'urgent':
      return 0
    case 'high':
      return 1
    case 'normal':
      return 2
    case 'low':
      return 3
    default:
      return -1
  }
}

/** Refuses anything but 'block', 'shed' or 'reject' (createBus's option and each send's). */
export function checkBackpressure(bp: unknown): Backpressure {
  if (bp !== 'block' && bp !== 'shed' && bp !== 'reject') {
    throw new TypeError(`backpressure must be 'block', 'shed' or 'reject'; received ${String(bp)}`)
  }
  return bp
}

/** Refuses a message type that is not a non-empty string (a send's and a handler's). */
export function checkMessageType(type: unknown): void {
  if (typeof type !== 'string' || type.length === 0)
    throw new TypeError(`type must be a non-empty string; received ${String(type)}`)
}

/** A new envelope sent by `from` at `now`, with the send options applied (validated). */
export function newEnvelope(
  id: string,
  from: string,
  to: string,
  type: string,
  payload: unknown,
  now: number,
  o: SendOptions | undefined,
): Envelope {
  const env: Envelope = {
    id,
    to,
    type,
    payload,
    p: 2,
    attempt: 1,
    sentAt: now,
    queuedAt: now,
    from,
  }
  if (o !== undefined) {
    if (o.priority !== undefined) {
      const p = priorityIndex(o.priority)
      if (p < 0)
        throw new TypeError(
          `priority must be one of ${PRIORITIES.join(', ')}; received ${String(o.priority)}`,
        )
      env.p = p
    }
    if (o.dedupKey !== undefined) env.dedupKey = o.dedupKey
    if (o.batchKey !== undefined) env.batchKey = o.batchKey
    if (o.tenant !== undefined) env.tenant = o.tenant
    if (o.timeout !== undefined) env.timeout = toTimerMs(o.timeout, 'send timeout')
    if (o.backpressure !== undefined) checkBackpressure(o.backpressure)
  }
  return env
}

/**
 * A reply read off the wire, or undefined for anything that is not one (not JSON, not an object
 * with a string `corr` and a boolean `ok`): reply channels are open to any client of the server,
 * and what someone else writes there must not throw in the connection's event handler
 * (regression: a forged 'not json' crashed the process on Redis and closed the connection on NATS).
 */
export function parseReply(text: string): Reply | undefined {
  let r: unknown
  try {
    r = JSON.parse(text)
  } catch {
    return undefined
  }
  if (r === null || typeof r !== 'object') return undefined
  const { corr, ok } = r as { corr?: unknown; ok?: unknown }
  return typeof corr === 'string' && typeof ok === 'boolean' ? (r as Reply) : undefined
}
