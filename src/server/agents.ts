/**
 * The reference server's agents, talking over hotpath/bus (the memory transport by default, Redis
 * Streams with REDIS_URL, NATS JetStream with NATS_URL, which wins over REDIS_URL for the bus; on
 * either, agents on several instances share the work):
 * - `pricing` answers `quote` requests (request-reply) from the catalogue;
 * - `inventory` takes `restock` tasks with a priority and writes the stock through the catalogue
 *   (the write invalidates the cached reads); each restock is announced as `product.updated`;
 * - `gateway` is the server's own address: it sends, and hears `product.updated` for live updates.
 */
import type { Redis } from 'ioredis'
import {
  type Bus,
  type BusStats,
  createBus,
  memoryTransport,
  NonRetryableError,
  natsTransport,
  type Priority,
  redisTransport,
  type Transport,
  type TransportHealth,
} from '../bus/index.js'
import type { Monitor } from '../metrics/index.js'
import type { Catalog, Product } from './catalog.js'

/** A quote the pricing agent gives. */
export interface Quote {
  id: number
  price: number
  /** 10% off when the stock is high. */
  discounted: boolean
}

/** A restock task. */
export interface Restock {
  id: number
  amount: number
}

/** The agents and the gateway's own bus. */
export class Agents {
  private constructor(
    readonly gateway: Bus,
    private readonly agents: Bus[],
    private readonly transport: Transport,
  ) {}

  /** The transport: JetStream with `nats`, else Redis Streams with `redis`, else memory. */
  private static transport(o: {
    redis: Redis | undefined
    nats?: { url: string; stream: string }
  }): Transport {
    if (o.nats !== undefined) return natsTransport({ servers: o.nats.url, stream: o.nats.stream })
    if (o.redis !== undefined) return redisTransport({ redis: o.redis, prefix: 'hotpath-gateway:' })
    return memoryTransport()
  }

  /** Starts the agents on the transport `nats` or `redis` selects (memory without either). */
  static async start(o: {
    catalog: Catalog
    monitor: Monitor
    redis: Redis | undefined
    /** NATS URL(s) and stream: the bus on JetStream (wins over `redis`). */
    nats?: { url: string; stream: string } | undefined
    onUpdate: (p: Product) => void
    /** Told each time an agent's subscribe on the transport fails (the bus retries it). */
    onSubscribeError?: (bus: string, error: unknown, retryInMs: number) => void
  }): Promise<Agents> {
    const transport = Agents.transport(o)
    const pricing = createBus({ name: 'pricing', transport, monitor: o.monitor })
    pricing.on('quote', async (p: { id: number }) => {
      const product = await o.catalog.get(p.id)
      if (product === undefined) throw new NonRetryableError(`no product ${p.id}`)
      const discounted = product.stock > 100
      const price = discounted ? Math.round(product.price * 90) / 100 : product.price
      return { id: p.id, price, discounted } satisfies Quote
    })
    const inventory = createBus({ name: 'inventory', transport, monitor: o.monitor, concurrency: 4 })
    const gateway = createBus({ name: 'gateway', transport, monitor: o.monitor })
    inventory.on('restock', async (t: Restock) => {
      const current = await o.catalog.get(t.id)
      if (current === undefined) throw new NonRetryableError(`no product ${t.id}`)
      const updated = await o.catalog.update(t.id, { stock: current.stock + t.amount })
      if (updated !== undefined) await inventory.broadcast('product.updated', updated)
    })
    gateway.on('product.updated', (p: Product) => o.onUpdate(p))
    const onSubscribeError = o.onSubscribeError
    if (onSubscribeError !== undefined) {
      for (const b of [pricing, inventory, gateway])
        b.onEvent('subscribeError', (e) => onSubscribeError(b.name, e.error, e.retryInMs))
    }
    // ready when the transport is (with Redis or NATS down at start, the agents wait for it; the
    // server does not)
    if (transport.kind === 'memory')
      await Promise.all([pricing.whenReady(), inventory.whenReady(), gateway.whenReady()])
    return new Agents(gateway, [pricing, inventory], transport)
  }

  /** Asks the pricing agent for a quote. */
  quote(id: number, signal?: AbortSignal): Promise<Quote> {
    return this.gateway.request<Quote>(
      'pricing',
      'quote',
      { id },
      { timeout: '2s', ...(signal ? { signal } : {}) },
    )
  }

  /** Queues a restock task for the inventory agent; resolves with the message id. */
  restock(task: Restock, priority: Priority): Promise<string | undefined> {
    return this.gateway.send('inventory', 'restock', task, { priority })
  }

  /** Each bus's figures (queues per class, handled, retried, dead letters). */
  stats(): Record<string, BusStats> {
    const out: Record<string, BusStats> = { gateway: this.gateway.stats() }
    for (const b of this.agents) out[b.name] = b.stats()
    return out
  }

  /** The transport's connection health from recorded state (undefined: memory, or Redis, probed with the shared client). */
  transportHealth(): TransportHealth | undefined {
    return this.transport.health?.()
  }

  /**
   * Whether every bus consumes: the names of those that do not yet (their transport unreachable,
   * or their subscribe refused and being retried) and their failed subscribe attempts.
   */
  consuming(): { ok: boolean; waiting: string[]; subscribeFailures: number } {
    const waiting: string[] = []
    let subscribeFailures = 0
    for (const b of [this.gateway, ...this.agents]) {
      const s = b.stats()
      if (!s.consuming) waiting.push(b.name)
      subscribeFailures += s.subscribeFailures
    }
    return { ok: waiting.length === 0, waiting, subscribeFailures }
  }

  /** Resolves when every agent consumes (on NATS or Redis, once the server answered). */
  async whenReady(): Promise<void> {
    await Promise.all([this.gateway, ...this.agents].map((b) => b.whenReady()))
  }

  /**
   * Drains every bus at once for up to `drainMs`, then closes the buses and the transport.
   * Resolves with the messages still queued when the drain ended: on Redis or NATS they stay in
   * the stream for the next consumer; on the memory transport they are lost with the process.
   */
  async close(drainMs: number): Promise<{ unhandled: number }> {
    const buses = [...this.agents, this.gateway]
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(buses.map((b) => b.drain())),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, drainMs)
      }),
    ])
    clearTimeout(timer)
    let unhandled = 0
    for (const b of buses) unhandled += b.stats().queued
    for (const b of buses) await b.close({ drain: false })
    await this.transport.close()
    return { unhandled }
  }

  /** The transport's kind: where undrained messages go at close. */
  get transportKind(): Transport['kind'] {
    return this.transport.kind
  }
}
