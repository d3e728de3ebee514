/**
 * Settling delivered stream entries. An entry (one message, or a pack) is in flight until each
 * of its messages has an outcome; then it is acked (batched: one XACK+XDEL pipeline per stream
 * per event-loop turn) or, when some of its messages are retried or dead-lettered, settled by one
 * FINISH Lua call that acks and deletes it and parks its retries and dead letters atomically.
 */
import type { Cluster, Redis } from 'ioredis'
import { GROUP } from './redis-claim.js'
import type { Entry } from './redis-wire.js'

type Client = Redis | Cluster
// biome-ignore lint/suspicious/noExplicitAny: defineCommand adds methods ioredis does not type
const scripted = (c: Client): any => c

/** The in-flight entries of one transport and their acknowledgements. */
export class Settlement {
  /** Entries held, by stream and id (the heartbeat keeps them claimed). */
  readonly inflight = new Map<string, Entry>()
  private queue = new Map<string, string[]>()
  private scheduled = false

  constructor(
    private readonly client: () => Promise<Client>,
    private readonly delayedKey: (address: string) => string,
    private readonly dlqKey: (address: string) => string,
    private readonly maxDead: number,
  ) {}

  /** Registers a delivered entry. */
  hold(e: Entry): void {
    this.inflight.set(`${e.stream}\u0000${e.id}`, e)
  }

  /** One message of `e` has its outcome: when it was the last, the entry is settled. */
  settled(e: Entry): void {
    if (--e.left > 0) return
    this.inflight.delete(`${e.stream}\u0000${e.id}`)
    if (e.retries.length === 0 && e.dead.length === 0) {
      this.ack(e)
      return
    }
    // retries and dead letters of the entry land with its ack, atomically
    const keys = [e.stream, this.delayedKey(e.address), this.dlqKey(e.address)]
    const args = [GROUP, e.id, this.maxDead, e.retries.length / 2, ...e.retries, ...e.dead]
    this.client()
      .then((c) => scripted(c).hpBusFinish(...keys, ...args))
      .catch(() => {}) // the entry stays pending: redelivered after claimIdle (at-least-once)
  }

  /** Queues the entry's ack for this turn's pipeline. */
  ack(e: Entry): void {
    let ids = this.queue.get(e.stream)
    if (ids === undefined) {
      ids = []
      this.queue.set(e.stream, ids)
    }
    ids.push(e.id)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => void this.flush())
    }
  }

  /** Sends the queued acks. */
  async flush(): Promise<void> {
    this.scheduled = false
    if (this.queue.size === 0) return
    const q = this.queue
    this.queue = new Map()
    const client = await this.client()
    if (q.size === 1) {
      // one stream: two commands, no pipeline (an ioredis pipeline copies every defined script
      // onto itself, garbage that a message at a time pays for in scavenges)
      const [stream, ids] = q.entries().next().value as [string, string[]]
      await Promise.all([client.xack(stream, GROUP, ...ids), client.xdel(stream, ...ids)]).catch(() => {})
      return
    }
    const pipe = client.pipeline()
    for (const [stream, ids] of q) {
      pipe.xack(stream, GROUP, ...ids)
      pipe.xdel(stream, ...ids)
    }
    // a failed ack only means a redelivery later (at-least-once)
    await pipe.exec().catch(() => {})
  }
}
