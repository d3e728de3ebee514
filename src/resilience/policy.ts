/**
 * The shape every policy shares: `execute(fn, signal?)` runs `fn` under the policy. Policies
 * compose with `wrap()`; each reports events and `stats()` for hotpath/metrics.
 */
import type { Disposer } from '../events.js'

/** What a policy passes to the function it runs. */
export interface PolicyContext {
  /** Aborted when the caller aborts, or when a policy (timeout, hedge) gives up on this attempt. */
  readonly signal: AbortSignal
  /** 1 for the first attempt, 2 for the first retry... (set by retry). */
  readonly attempt: number
}

/** A function run under a policy. */
export type Work<T> = (ctx: PolicyContext) => T | Promise<T>

/** A resilience policy. */
export interface Policy {
  /** Metrics kind: 'retry', 'circuit-breaker', 'timeout', 'bulkhead', ... */
  readonly kind: string
  /** Instance name (metrics label). */
  readonly name: string
  /** Runs `fn` under the policy. */
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T>
  /** Subscribes to an event; returns a disposer. */
  // biome-ignore lint/suspicious/noExplicitAny: each policy has its own typed events
  on(event: any, listener: (payload: any) => void): Disposer
  /** Counters and state. */
  stats(): object
}

const NEVER = new AbortController().signal
const ROOT: PolicyContext = Object.freeze({ signal: NEVER, attempt: 1 })

/** A context for a call; calls without a signal share one frozen context (no allocation). */
export function rootContext(signal: AbortSignal | undefined, attempt = 1): PolicyContext {
  if (signal === undefined && attempt === 1) return ROOT
  return { signal: signal ?? NEVER, attempt }
}
