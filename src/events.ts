/**
 * Typed events as functions returning a disposer. Emitting costs one length check when nobody
 * listens, so producers guard event construction with `if (events.has('name'))`.
 */

/** Removes the listener it was returned for. Calling it twice is harmless. */
export type Disposer = () => void

/** A typed event emitter over an event map `{ name: payload }`. */
export class Events<M extends object> {
  private readonly map = new Map<keyof M, Array<(payload: never) => void>>()

  /** Subscribes to `name`; returns the disposer. */
  on<K extends keyof M>(name: K, listener: (payload: M[K]) => void): Disposer {
    if (typeof listener !== 'function') {
      throw new TypeError(`listener for "${String(name)}" must be a function; received ${typeof listener}`)
    }
    const list = this.map.get(name) ?? []
    // copy-on-write keeps emit() safe while listeners subscribe or dispose during delivery
    this.map.set(name, [...list, listener as (payload: never) => void])
    let active = true
    return () => {
      if (!active) return
      active = false
      const current = this.map.get(name)
      if (!current) return
      const next = current.filter((l) => l !== listener)
      if (next.length === 0) this.map.delete(name)
      else this.map.set(name, next)
    }
  }

  /** True when somebody listens to `name`; use it to skip building payloads. */
  has(name: keyof M): boolean {
    return this.map.has(name)
  }

  /** Delivers `payload` to every listener; a throwing listener never breaks the producer. */
  emit<K extends keyof M>(name: K, payload: M[K]): void {
    const list = this.map.get(name)
    if (list === undefined) return
    for (const listener of list) {
      try {
        ;(listener as (p: M[K]) => void)(payload)
      } catch (err) {
        queueMicrotask(() => {
          process.emitWarning(`hotpath: a "${String(name)}" listener threw: ${String(err)}`)
        })
      }
    }
  }

  /** Drops every listener. */
  clear(): void {
    this.map.clear()
  }
}
