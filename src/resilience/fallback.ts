/** fallback(): answers with a value (or a function's result) when the call fails. */
import { Events } from '../events.js'
import { assertKnownKeys } from '../options.js'
import type { MonitorLike } from '../types.js'
import { type Handle, toPredicate } from './handle.js'
import { type Policy, rootContext, type Work } from './policy.js'
import { traceExecute, tracingChannels } from './tracing.js'

/** Options of `fallback()`. */
export interface FallbackOptions {
  /** Errors that get the fallback (others are rethrown). @default every error */
  handle?: Handle
  /** @default 'fallback' */
  name?: string
  monitor?: MonitorLike
}

/** A fallback policy. */
export class FallbackPolicy<F> implements Omit<Policy, 'execute'> {
  readonly kind = 'fallback'
  readonly name: string
  private readonly events = new Events<{ fallback: { error: unknown } }>()
  private readonly handles: (err: unknown) => boolean
  private counts = { calls: 0, fallbacks: 0 }

  constructor(
    private readonly value: F | ((error: unknown) => F | Promise<F>),
    options: FallbackOptions = {},
  ) {
    assertKnownKeys(options, ['handle', 'name', 'monitor'], 'fallback options')
    this.name = options.name ?? 'fallback'
    this.handles = toPredicate(options.handle)
    options.monitor?.attach(this)
  }

  /** Runs `fn`; on a handled error returns the fallback instead. */
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T | F> {
    if (tracingChannels.execute.hasSubscribers) return traceExecute(this, () => this.run(fn, signal))
    return this.run(fn, signal)
  }

  private async run<T>(fn: Work<T>, signal: AbortSignal | undefined): Promise<T | F> {
    this.counts.calls++
    try {
      return await fn(rootContext(signal))
    } catch (error) {
      if (!this.handles(error)) throw error
      this.counts.fallbacks++
      if (this.events.has('fallback')) this.events.emit('fallback', { error })
      const v = this.value
      return typeof v === 'function' ? (v as (e: unknown) => F | Promise<F>)(error) : v
    }
  }

  on(event: 'fallback', listener: (payload: { error: unknown }) => void) {
    return this.events.on(event, listener)
  }

  stats() {
    return { ...this.counts }
  }
}

/** Creates a fallback policy answering with `value` or `value(error)`. */
export function fallback<F>(
  value: F | ((error: unknown) => F | Promise<F>),
  options: FallbackOptions = {},
): FallbackPolicy<F> {
  return new FallbackPolicy(value, options)
}
