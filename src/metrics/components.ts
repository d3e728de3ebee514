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
  private readonly attached = new Map<Instrumentable, Held>()

  constructor(private readonly warn: (message: string) => void) {}

  /** Adds (or replaces) the adapter for a component kind. */
  registerAdapter(kind: string, adapter: Adapter): void {
    if (typeof kind !== 'string' || typeof adapter !== 'function') {
      throw new TypeError('registerAdapter(kind, adapter) needs a string and a function')
    }
    this.adapters.set(kind, adapter)
  }

  /**
   * Attaches `source` through its kind's adapter (replacing an earlier attachment of it). A
   * second component of one kind and name is labelled `name#2` (then #3...), with a warning:
   * sharing the first's series, its gauges overwrote the first's at every collection and its
   * close removed series the first still fed.
   */
  attach(source: Instrumentable, ctx: AdapterContext): Disposer {
    this.detach(source)
    let name = source.name
    if (this.taken(source.kind, name)) {
      let n = 2
      while (this.taken(source.kind, `${source.name}#${n}`)) n++
      name = `${source.name}#${n}`
      this.warn(
        `monitor: a second ${source.kind} named "${source.name}" is attached; its series are labelled "${name}" (give each ${source.kind} its own name)`,
      )
    }
    const view: Instrumentable =
      name === source.name
        ? source
        : { kind: source.kind, name, on: (e, f) => source.on(e, f), stats: () => source.stats() }
    const adapter = this.adapters.get(source.kind) ?? genericAdapter
    const held: Held = { attachment: adapter(view, ctx), name }
    this.attached.set(source, held)
    return () => {
      if (this.attached.get(source) === held) this.detach(source)
    }
  }

  private detach(source: Instrumentable): void {
    const held = this.attached.get(source)
    if (held === undefined) return
    held.attachment.dispose()
    this.attached.delete(source)
  }

  /** Whether a component of `kind` attached here carries `name` in its series. */
  private taken(kind: string, name: string): boolean {
    for (const [source, held] of this.attached) if (source.kind === kind && held.name === name) return true
    return false
  }

  /** Runs every attachment's collect step. */
  collect(): void {
    for (const { attachment } of this.attached.values()) {
      try {
        attachment.collect()
      } catch (err) {
        this.warn(`collecting a component failed: ${String(err)}`)
      }
    }
  }

  /** Every attached component's stats, as the snapshot lists them. */
  stats(): MonitorSnapshot['components'] {
    const components: MonitorSnapshot['components'] = []
    for (const [source, held] of this.attached) {
      let stats: Record<string, unknown> = {}
      try {
        stats = source.stats() as Record<string, unknown>
      } catch {
        stats = { error: 'stats() threw' }
      }
      components.push({ kind: source.kind, name: held.name, stats })
    }
    return components
  }

  /** Detaches every component. */
  dispose(): void {
    for (const { attachment } of this.attached.values()) attachment.dispose()
    this.attached.clear()
  }
}

/** One attached component: its attachment, and the name its series carry. */
interface Held {
  attachment: Attachment
  name: string
}
