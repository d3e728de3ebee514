/**
 * Building a message's envelope from `send` options, and the checks the bus and its options
 * share (a message type, a backpressure mode). On the send path: no allocation beyond the
 * envelope, no lookup keyed by the priority's name.
 */

import { toTimerMs } from '../time.js'
import type { SendOptions } from './api.js'
import {
  type Backpressure,
  type DeadLetter,
  type Envelope,
  PRIORITIES,
  type Priority,
  type Reply,
} from './types.js'

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
  const r = jsonObject(text)
  return typeof r?.corr === 'string' && typeof r.ok === 'boolean' ? (r as unknown as Reply) : undefined
}

/**
 * `text` parsed when it is a JSON object, else undefined: what the bus reads off a channel or a
 * stream that any client of the server may write to (never a throw in a connection's handler).
 */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return undefined
  }
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined
}

const OPTIONAL_STRINGS = ['to', 'from', 'dedupKey', 'batchKey', 'tenant', 'replyTo', 'corr'] as const

const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string'

/**
 * Why `x`, read off a stream, is not a message the bus can run; undefined when it is one. A
 * durable transport's streams are open to any client of the server: what someone else wrote there
 * must become a dead letter, not a throw in the read loop (regression: it stalled the consumer).
 * Every message read is checked: one expression for a good one (about 20 ns), the reason only
 * for a bad one (the loop over the optional fields cost 60-90 ns a message).
 */
export function envelopeFault(x: unknown): string | undefined {
  if (x !== null && typeof x === 'object') {
    const e = x as Record<string, unknown>
    const p = e.p
    const attempt = e.attempt
    const timeout = e.timeout
    if (
      typeof e.id === 'string' &&
      typeof e.type === 'string' &&
      (p === 0 || p === 1 || p === 2 || p === 3) &&
      Number.isSafeInteger(attempt) &&
      (attempt as number) >= 1 &&
      Number.isFinite(e.sentAt) &&
      Number.isFinite(e.queuedAt) &&
      optionalString(e.to) &&
      optionalString(e.from) &&
      optionalString(e.dedupKey) &&
      optionalString(e.batchKey) &&
      optionalString(e.tenant) &&
      optionalString(e.replyTo) &&
      optionalString(e.corr) &&
      (timeout === undefined || (Number.isFinite(timeout) && (timeout as number) >= 0)) &&
      !Array.isArray(x)
    )
      return undefined
  }
  return faultOf(x)
}

function faultOf(x: unknown): string {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return 'not an object'
  const e = x as Record<string, unknown>
  if (typeof e.id !== 'string') return 'id is not a string'
  if (typeof e.type !== 'string') return 'type is not a string'
  if (e.p !== 0 && e.p !== 1 && e.p !== 2 && e.p !== 3) return 'p is not a class index 0..3'
  if (!Number.isSafeInteger(e.attempt) || (e.attempt as number) < 1)
    return 'attempt is not a positive integer'
  if (!Number.isFinite(e.sentAt) || !Number.isFinite(e.queuedAt)) return 'sentAt or queuedAt is not a number'
  for (const k of OPTIONAL_STRINGS) if (!optionalString(e[k])) return `${k} is not a string`
  return 'timeout is not a number of ms'
}

/**
 * A dead letter read off a dead-letter stream, or undefined for anything that is not one: those
 * streams are open to any client of the server too, and what someone else wrote there is skipped
 * (regression: one entry that was not JSON made `deadLetters()` and `replay()` throw for good).
 */
export function parseDeadLetter(text: string): DeadLetter | undefined {
  const x = jsonObject(text)
  if (x === undefined) return undefined
  if (typeof x.id !== 'string' || typeof x.reason !== 'string' || typeof x.error !== 'string')
    return undefined
  if (!Number.isFinite(x.attempts) || !Number.isFinite(x.at)) return undefined
  const e = x.envelope as Record<string, unknown> | null
  // an envelope that was itself not a message (reason 'invalid') still has the shape we write
  if (e === null || typeof e !== 'object' || typeof e.type !== 'string' || typeof e.to !== 'string')
    return undefined
  return x as unknown as DeadLetter
}

/** The dead letter (reason 'invalid') of `raw`, found on `address`'s stream: not a message (`fault`). */
export function malformedLetter(
  raw: unknown,
  fault: string,
  fallbackId: string,
  address: string,
  now: number,
): DeadLetter {
  const r = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>
  const id = typeof r.id === 'string' ? r.id : fallbackId
  return {
    id,
    envelope: {
      id,
      to: address,
      type: typeof r.type === 'string' ? r.type : '',
      payload: raw,
      p: 2,
      attempt: 1,
      sentAt: now,
      queuedAt: now,
    },
    reason: 'invalid',
    attempts: 0,
    error: `not a bus message: ${fault}`,
    at: now,
  }
}

/**
 * The producer dedup and processed-set key of `key` sent to `to`: scoped by the address (its
 * length first, so no two pairs meet), since two addresses on one server may use one natural key
 * (regression: an order id used as dedupKey for 'billing' dropped the send to 'shipping', and
 * billing's processed mark skipped shipping's idempotent handler).
 */
export function scopedKey(to: string, key: string): string {
  return `${to.length}:${to}:${key}`
}

/** The processed-set key of a message: its `dedupKey`, else its id, scoped by its address. */
export function processedKeyOf(m: { to: string; id: string; dedupKey?: string }): string {
  return scopedKey(m.to, m.dedupKey ?? m.id)
}
