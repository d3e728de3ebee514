/**
 * The Redis transport's producer side: the publishes of one event-loop turn share one pipeline,
 * and those to one stream share entries (packs of up to `pack` messages, one XADD each; a lone
 * message is written in the first wire format). Each publish resolves when its entry is stored.
 */
import type { Cluster, Redis } from 'ioredis'
import { encode, encodePack } from './redis-wire.js'
import type { Envelope } from './types.js'

interface Pub {
  stream: string
  env: Envelope
  resolve: () => void
  reject: (e: unknown) => void
}

/** Batches publishes per turn and packs them per stream. */
export class Publisher {
  private queue: Pub[] = []
  private scheduled = false

  constructor(
    private readonly client: () => Promise<Redis | Cluster>,
    /** Most messages per entry. */
    readonly pack: number,
  ) {}

  /** Queues `env` for `stream`; resolves when stored. */
  publish(stream: string, env: Envelope): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ stream, env, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => void this.flush())
      }
    })
  }

  /** Writes what is queued now. */
  async flush(): Promise<void> {
    this.scheduled = false
    if (this.queue.length === 0) return
    const batch = this.queue
    this.queue = []
    const groups = new Map<string, Pub[]>()
    for (const m of batch) {
      const g = groups.get(m.stream)
      if (g === undefined) groups.set(m.stream, [m])
      else g.push(m)
    }
    const writes: Pub[][] = []
    for (const g of groups.values()) {
      for (let i = 0; i < g.length; i += this.pack) writes.push(g.slice(i, i + this.pack))
    }
    try {
      const pipe = (await this.client()).pipeline()
      for (const w of writes) {
        const first = w[0] as Pub
        if (w.length === 1) pipe.xadd(first.stream, '*', 'm', encode(first.env))
        else pipe.xadd(first.stream, '*', 'b', encodePack(w.map((m) => m.env)))
      }
      const res = (await pipe.exec()) ?? []
      for (let i = 0; i < writes.length; i++) {
        const err = res[i]?.[0]
        for (const m of writes[i] as Pub[]) {
          if (err) m.reject(err)
          else m.resolve()
        }
      }
    } catch (err) {
      for (const m of batch) m.reject(err)
    }
  }
}
