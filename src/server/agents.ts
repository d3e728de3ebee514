/**
 * The reference server's agents, talking over hotpath/bus (the memory transport by default, Redis
 * Streams with REDIS_URL, so agents on several instances share the work):
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
  type Priority,
  redisTransport,
  type Transport,
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

  /** Starts the agents on the transport `redis` selects (memory without it). */
  static async start(o: {
    catalog: Catalog
    monitor: Monitor
    redis: Redis | undefined
    onUpdate: (p: Product) => void
  }): Promise<Agents> {
    const transport =
      o.redis === undefined
        ? memoryTransport()
        : redisTransport({ redis: o.redis, prefix: 'hotpath-gateway:' })
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
    // ready when the transport is (with Redis down at start, the agents wait for it; the server does not)
    if (o.redis === undefined)
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

  /** Drains and closes the buses, then the transport. */
  async close(): Promise<void> {
    for (const b of [...this.agents, this.gateway]) await b.close()
    await this.transport.close()
  }
}
