/**
 * The bus's public call shapes: what a handler receives and the options of send, request and
 * close. (The bus itself is in bus.ts; transports see the envelope in types.ts.)
 */
import type { Duration } from '../time.js'
import type { Backpressure, Envelope, Priority } from './types.js'

/** A received message, as a handler sees it. */
export type Message = Readonly<Omit<Envelope, 'handle'>>

/** Handles one message; the value it returns is the reply to a request. */
export type MessageHandler<T = unknown> = (payload: T, message: Message, signal?: AbortSignal) => unknown

/** Handles a batch of messages of one type and batch key. */
export type MessageBatchHandler<T = unknown> = (
  messages: Message[],
  batch: { key: string; fail(message: Message, error: unknown): void; payloads(): T[] },
) => void | Promise<void>

/** Options of `send`. */
export interface SendOptions {
  /** @default 'normal' */
  priority?: Priority
  /** Producer dedup: a second send with this key within `dedupWindow` is not sent. */
  dedupKey?: string
  /** Batch handlers group by it. @default the message type */
  batchKey?: string
  /** Fairness key inside the class (tenants are served round robin). @default '' */
  tenant?: string
  /** Handler timeout for this message. @default the handler's */
  timeout?: Duration
  /** Overrides the bus's backpressure for this send. */
  backpressure?: Backpressure
}

/** Options of `request`. */
export interface RequestOptions extends Omit<SendOptions, 'dedupKey' | 'batchKey'> {
  /** How long to wait for the reply. @default the bus's requestTimeout ('5s') */
  timeout?: Duration
  /** Aborts the wait (the request may still be handled). */
  signal?: AbortSignal
}

/** Options of `close`. */
export interface CloseOptions {
  /** Let queued and running messages finish first. @default true */
  drain?: boolean
  /** Longest drain. @default '10s' */
  timeout?: Duration
}
