/**
 * The components a monitor watches (caches, policies, pools, Redis clients...): the adapter for
 * each kind, the attachment `attach()` made for each source, and the per-collection pass over
 * them: each attachment's collect step, and each source's `stats()` for the JSON snapshot. A
 * component that throws is reported and skipped, never allowed to stop a collection.
 */
import type { Disposer } from '../events.js'
import type { Instrumentable } from '../types.js'
import {
  type Adapter,
  type AdapterContext,
  type Attachment,
  cacheAdapter,
  genericAdapter,
} from './adapters.js'
import type { MonitorSnapshot } from './monitor-options.js'
import { redisAdapter } from './redis.js'

/** Adapters by kind and the attached components of one monitor. */
export class Components {
  private readonly adapters = new Map<string, Adapter>([
    ['cache', cacheAdapter],
    ['redis', redisAdapter],
  ])
  private readonly attached = new Map<Instrumentable, Attachment>()

  constructor(private readonly warn: (message: string) => void) {}

  /** Adds (or replaces) the adapter for a component kind. */
  registerAdapter(kind: string, adapter: Adapter): void {
    if (typeof kind !== 'string' || typeof adapter !== 'function') {
      throw new TypeError('registerAdapter(kind, adapter) needs a string and a function')
    }
    this.adapters.set(kind, adapter)
  }

  /** Attaches `source` through its kind's adapter (replacing an earlier attachment of it). */
  attach(source: Instrumentable, ctx: AdapterContext): Disposer {
    this.attached.get(source)?.dispose()
    const adapter = this.adapters.get(source.kind) ?? genericAdapter
    const attachment = adapter(source, ctx)
    this.attached.set(source, attachment)
    return () => {
      if (this.attached.get(source) === attachment) {
        attachment.dispose()
        this.attached.delete(source)
      }
    }
  }

  /** Runs every attachment's collect step. */
  collect(): void {
    for (const a of this.attached.values()) {
      try {
        a.collect()
      } catch (err) {
        this.warn(`collecting a component failed: ${String(err)}`)
      }
    }
  }

  /** Every attached component's stats, as the snapshot lists them. */
  stats(): MonitorSnapshot['components'] {
    const components: MonitorSnapshot['components'] = []
    for (const source of this.attached.keys()) {
      let stats: Record<string, unknown> = {}
      try {
        stats = source.stats() as Record<string, unknown>
      } catch {
        stats = { error: 'stats() threw' }
      }
      components.push({ kind: source.kind, name: source.name, stats })
    }
    return components
  }

  /** Detaches every component. */
  dispose(): void {
    for (const a of this.attached.values()) a.dispose()
    this.attached.clear()
  }
}
