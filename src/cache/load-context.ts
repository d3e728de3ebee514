/**
 * The context a loader receives (`{ key, signal, stale }`) and the abort handle of a batch load.
 */

const NOT_ABORTED: unique symbol = Symbol('not aborted')

/**
 * A loader's abort signal, made only if the loader reads it: most loaders never do, and an
 * AbortController with its signal (and the listeners hung on it) cost more than the rest of a
 * miss's bookkeeping (measured on the db layer's cache-miss path). An abort before the first read
 * is remembered, so a signal read later is already aborted, with the same reason.
 */
export class LazyAbort {
  #ac: AbortController | undefined
  #reason: unknown = NOT_ABORTED

  get signal(): AbortSignal {
    if (this.#ac === undefined) {
      this.#ac = new AbortController()
      if (this.#reason !== NOT_ABORTED) this.#ac.abort(this.#reason)
    }
    return this.#ac.signal
  }

  abort(reason: unknown): void {
    if (this.#ac !== undefined) this.#ac.abort(reason)
    else if (this.#reason === NOT_ABORTED) this.#reason = reason
  }
}

/** What a loader receives (`LoaderContext`), with its signal made on first read. */
export class LoadContext<T> extends LazyAbort {
  constructor(
    readonly key: string,
    readonly stale: T | undefined,
  ) {
    super()
  }
}
