/**
 * wrap(a, b, c): one policy that runs a call through a, then b, then c (a outermost). The
 * signal each policy hands down reaches the function, so a timeout inside a retry bounds each
 * attempt, and a retry inside a breaker counts once per call.
 */
import type { Disposer } from '../events.js'
import type { FallbackPolicy } from './fallback.js'
import type { Policy, Work } from './policy.js'
import { traceExecute, tracingChannels } from './tracing.js'

/** Anything wrap() composes: a policy, or a fallback (whose result may be the fallback value). */
// biome-ignore lint/suspicious/noExplicitAny: a fallback of any value type
export type Composable = Policy | FallbackPolicy<any>

/** Policies composed into one. */
export class WrappedPolicy implements Policy {
  readonly kind = 'wrap'
  readonly name: string
  constructor(readonly policies: readonly Composable[]) {
    if (policies.length === 0) throw new TypeError('wrap() needs at least one policy')
    for (const p of policies) {
      if (typeof p?.execute !== 'function')
        throw new TypeError('wrap() takes policies (objects with execute())')
    }
    this.name = policies.map((p) => p.name).join('+')
  }

  /** Runs `fn` through every policy, outermost first. */
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
    if (tracingChannels.execute.hasSubscribers) return traceExecute(this, () => this.run(fn, signal))
    return this.run(fn, signal)
  }

  private run<T>(fn: Work<T>, signal: AbortSignal | undefined): Promise<T> {
    const run = (i: number, s: AbortSignal | undefined): Promise<T> => {
      const p = this.policies[i] as Policy
      if (i === this.policies.length - 1) return p.execute(fn, s)
      return p.execute((ctx) => run(i + 1, ctx.signal), s)
    }
    return run(0, signal)
  }

  /** Wrapped policies have no events of their own: subscribe to the parts. */
  on(_event: string, _listener: (payload: unknown) => void): Disposer {
    return () => {}
  }

  /**
   * Disposes every wrapped policy that holds something (a shared breaker's Redis subscriber, a
   * monitor registration). Idempotent.
   */
  dispose(): void {
    for (const p of this.policies) {
      const d = (p as { dispose?: () => void }).dispose
      if (typeof d === 'function') d.call(p)
    }
  }

  /** Each part's stats by name. */
  stats() {
    return Object.fromEntries(this.policies.map((p) => [p.name, p.stats()]))
  }
}

/** Composes policies; the first is the outermost. */
export function wrap(...policies: Composable[]): WrappedPolicy {
  return new WrappedPolicy(policies)
}
