/**
 * The resilience policies' `diagnostics_channel` TracingChannel: one trace per `execute()` of a
 * retry, circuit breaker, timeout, bulkhead, fallback, hedge or `wrap()` (so a wrapped call gives
 * nested traces, outermost first). Nothing is published, and nothing allocated, unless somebody
 * subscribes.
 */
import diagnostics_channel from 'node:diagnostics_channel'
import type { CircuitState } from './breaker/circuit-breaker.js'

/** The context of a `hotpath:resilience.execute` trace. */
export interface ExecuteTrace {
  /** The policy's kind: 'retry', 'circuit-breaker', 'timeout', 'bulkhead', 'fallback', 'hedge', 'wrap'. */
  readonly kind: string
  /** The policy's name (its metrics label). */
  readonly name: string
  /** Retry: the attempts made, set when the call settles. */
  attempts?: number
  /** Circuit breaker: the state the call found. */
  state?: CircuitState
  /** Circuit breaker: true when the call was refused (E_CIRCUIT_OPEN) without running. */
  rejected?: boolean
}

/** The resilience part's tracing channels, named `hotpath:resilience.<operation>`. */
export const tracingChannels = Object.freeze({
  /** Each policy's `execute()`: context {@link ExecuteTrace}. */
  execute: diagnostics_channel.tracingChannel<unknown, ExecuteTrace>('hotpath:resilience.execute'),
})

/** Runs `run` inside an execute trace of `policy` (call only when the channel has subscribers). */
export function traceExecute<T>(
  policy: { readonly kind: string; readonly name: string },
  run: (trace: ExecuteTrace) => Promise<T>,
): Promise<T> {
  const trace: ExecuteTrace = {
    kind: policy.kind,
    name: policy.name,
    attempts: undefined,
    state: undefined,
    rejected: undefined,
  }
  return tracingChannels.execute.tracePromise(run, trace, undefined, trace)
}
