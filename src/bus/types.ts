/**
 * The bus's shapes: messages (envelopes), priorities, dead letters, and the transport contract
 * every transport (memory, Redis Streams, NATS JetStream) implements and the conformance suite
 * checks.
 */

/** Priority classes, most urgent first. */
export type Priority = 'urgent' | 'high' | 'normal' | 'low'

/** The classes in scheduling order. */
export const PRIORITIES: readonly Priority[] = Object.freeze(['urgent', 'high', 'normal', 'low'])

/** Class index: urgent 0 .. low 3. */
export const PRIORITY_INDEX: Readonly<Record<Priority, number>> = Object.freeze({
  urgent: 0,
  high: 1,
  normal: 2,
  low: 3,
})

/** A message as it travels. Plain data: transports serialize it. */
export interface Envelope {
  /** Unique id (producer-made). */
  id: string
  /** Address of the consumer ('*' for a broadcast copy). */
  to: string
  /** Message type: selects the handler. */
  type: string
  payload: unknown
  /** Class index 0 (urgent) .. 3 (low). */
  p: number
  /** Delivery attempt, 1-based (redeliveries after a crash count too, where the transport knows). */
  attempt: number
  /** Epoch ms when it was first sent. */
  sentAt: number
  /** Epoch ms when it (re)entered the queue: waiting time is measured from here. */
  queuedAt: number
  /** Sender's address. */
  from?: string
  /** Producer dedup key. */
  dedupKey?: string
  /** Batch handlers group by it (default: the type). */
  batchKey?: string
  /** Fairness key inside a class (a tenant): keys are served round robin. */
  tenant?: string
  /** Request-reply: the requester's address and correlation id. */
  replyTo?: string
  corr?: string
  /** Per-message handler timeout, ms. */
  timeout?: number
  /** A broadcast copy (no dead letter when nobody handles it). */
  bc?: true
  /** Transport-private delivery handle (stream id, JetStream message); never serialized. */
  handle?: unknown
}

/** A reply to a request. */
export interface Reply {
  corr: string
  ok: boolean
  value?: unknown
  /** The error's message and code when `ok` is false. */
  error?: { message: string; code?: string; reason?: string; type?: string }
}

/** Why a message went to the dead letters. */
export type DeadLetterReason =
  | 'failed'
  | 'non-retryable'
  | 'invalid'
  | 'no-handler'
  | 'timeout'
  | 'shed'
  /** Delivered more than `retry.attempts` times with no outcome: each consumer died holding it. */
  | 'max-deliveries'

/** A message that will not be delivered again unless replayed. */
export interface DeadLetter {
  /** The dead letter's id (the source message id). */
  id: string
  envelope: Envelope
  reason: DeadLetterReason
  /** Attempts made. */
  attempts: number
  /** The last error's message. */
  error: string
  /** Epoch ms when it was dead-lettered. */
  at: number
}

/** Selects dead letters. */
export interface DeadLetterFilter {
  type?: string
  to?: string
  reason?: DeadLetterReason
  /** Only these ids. */
  ids?: readonly string[]
  /** Most entries returned / replayed. @default 1000 */
  limit?: number
}

/** What `send` does when the consumer's bounded queue is full. */
export type Backpressure = 'block' | 'shed' | 'reject'

/** What a transport hands messages to: the bus that consumes an address. */
export interface TransportSink {
  /** Delivers read messages (durable transports read no more than `room()`). */
  deliver(envelopes: Envelope[]): void
  /**
   * Queues one message under the backpressure policy (in-process transports): undefined when it
   * was queued at once, a promise when it waits for room ('block'); throws E_BUS_FULL ('reject',
   * or 'shed' when nothing lower can be dropped).
   */
  admit(envelope: Envelope, backpressure: Backpressure): Promise<void> | undefined
  /** Delivers a reply to a request this bus made. */
  reply(reply: Reply): void
  /** Free queue slots. */
  room(): number
  /** Messages queued per class (urgent..low). */
  depths(): number[]
}

/** The contract every transport implements. */
export interface Transport {
  /** 'memory', 'redis', 'nats'. */
  readonly kind: string
  /**
   * Starts consuming `address` (and broadcasts) for `sink`, and replies sent to `inbox` (unique
   * per bus instance); resolves when ready.
   */
  subscribe(address: string, inbox: string, sink: TransportSink): Promise<void>
  /** Stops consuming for `sink` (messages not yet acked are redelivered to others). */
  unsubscribe(address: string, inbox: string, sink: TransportSink): Promise<void>
  /**
   * Publishes a message to its `to` address: undefined when done synchronously, else a promise
   * that resolves when the message is stored (durable) or queued, and rejects when refused.
   */
  publish(envelope: Envelope, backpressure: Backpressure): Promise<void> | undefined
  /** Publishes one copy to every subscribed address. */
  broadcast(envelope: Envelope): Promise<void>
  /** Sends a reply to `to`. */
  reply(to: string, reply: Reply): Promise<void>
  /** The message was handled: forget it. */
  ack(envelope: Envelope): void
  /** Redeliver after `delayMs` with `envelope.attempt` already raised. */
  retry(envelope: Envelope, delayMs: number): void
  /** Moves the message to the dead letters. */
  deadLetter(letter: DeadLetter): void
  /** Dead letters matching `filter`, oldest first. */
  listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]>
  /** Removes matching dead letters and returns them (the bus republishes them). */
  takeDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]>
  /** True the first time `key` is seen within `windowMs` (producer dedup). */
  claimDedup(key: string, windowMs: number): Promise<boolean>
  /** Consumer processed-set: was the side effect of `key` already done? */
  isProcessed(key: string): Promise<boolean>
  /** Records that `key`'s side effect is done (kept `windowMs`). */
  markProcessed(key: string, windowMs: number): Promise<void>
  /** Depth of `address`'s durable queue per class (memory: what is queued in its consumers). */
  depth(address: string): Promise<number[]>
  /** The connection's health as last observed, without I/O (durable transports that track it). */
  health?(): TransportHealth
  /** Releases connections and timers. */
  close(): Promise<void>
}

/** A transport's connection health, read from recorded state (for readiness checks). */
export interface TransportHealth {
  /** Connected, and the last PING (recent enough) was answered. */
  ok: boolean
  connection: 'connecting' | 'connected' | 'reconnecting' | 'closed'
  /** Round trip of the last PING, ms. */
  rttMs?: number
  /** Age of the last PING's outcome, ms. */
  checkedAgoMs?: number
  /** Why it is not ok, when a PING said so. */
  error?: string
}
