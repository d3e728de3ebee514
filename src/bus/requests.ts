/**
 * Requests waiting for their reply: the correlation map, the timeout and abort wiring, and the
 * translation of an error reply into the coded error the requester sees.
 */
import { AbortedError, TimeoutError } from '../errors.js'
import type { Clock } from '../time.js'
import { BusHandlerError, BusInvalidPayloadError, BusNoRouteError } from './errors.js'
import type { Reply } from './types.js'

interface Pending {
  resolve(v: unknown): void
  reject(e: unknown): void
  timer: unknown
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/** The requests of one bus instance. */
export class Requests {
  private readonly pending = new Map<string, Pending>()

  constructor(
    private readonly clock: Clock,
    private readonly busName: string,
  ) {}

  /** Requests waiting. */
  get size(): number {
    return this.pending.size
  }

  /** Registers request `corr`; the promise settles with its reply, timeout or abort. */
  open<R>(corr: string, what: string, timeout: number, signal: AbortSignal | undefined): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const entry: Pending = {
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: this.clock.setTimeout(() => {
          this.take(corr)?.reject(
            new TimeoutError(`${what} got no reply within ${timeout}ms; raise timeout or check the consumer`),
          )
        }, timeout),
        signal,
        onAbort: undefined,
      }
      if (signal !== undefined) {
        entry.onAbort = () => this.take(corr)?.reject(new AbortedError(signal.reason))
        signal.addEventListener('abort', entry.onAbort, { once: true })
      }
      this.pending.set(corr, entry)
    })
  }

  /** Fails request `corr` (its message could not be sent). */
  fail(corr: string, err: unknown): void {
    this.take(corr)?.reject(err)
  }

  /** Fails every waiting request. */
  failAll(err: unknown): void {
    for (const corr of [...this.pending.keys()]) this.take(corr)?.reject(err)
  }

  /** Settles the request a reply answers (a late reply is dropped). */
  settle(r: Reply): void {
    const p = this.take(r.corr)
    if (p === undefined) return
    if (r.ok) {
      p.resolve(r.value)
      return
    }
    const e = r.error
    const type = e?.type ?? '?'
    if (e?.code === 'E_BUS_NO_ROUTE') p.reject(new BusNoRouteError(this.busName, type))
    else if (e?.code === 'E_BUS_INVALID') p.reject(new BusInvalidPayloadError(type, [{ message: e.message }]))
    else p.reject(new BusHandlerError(type, e?.reason ?? 'failed', new Error(e?.message ?? 'request failed')))
  }

  private take(corr: string): Pending | undefined {
    const p = this.pending.get(corr)
    if (p === undefined) return undefined
    this.pending.delete(corr)
    this.clock.clearTimeout(p.timer)
    if (p.onAbort !== undefined) p.signal?.removeEventListener('abort', p.onAbort)
    return p
  }
}
