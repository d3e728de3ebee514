/**
 * A SIMULATED SLOW BACKEND: the demo data source of the reference server until the database
 * layer lands. Every call waits a realistic latency (base +-25% jitter) so caching, coalescing
 * and shedding have something to save. Not a database.
 */

/** A product of the demo catalogue. */
export interface Product {
  id: number
  name: string
  category: string
  price: number
  stock: number
  description: string
}

const CATEGORIES = ['books', 'music', 'games', 'tools', 'garden', 'kitchen']

/** The simulated backend. */
export class SlowBackend {
  private readonly products = new Map<number, Product>()
  calls = 0

  constructor(private readonly latencyMs: number) {
    for (let id = 1; id <= 200; id++) {
      this.products.set(id, {
        id,
        name: `Product ${id}`,
        category: CATEGORIES[id % CATEGORIES.length] as string,
        price: Math.round((5 + ((id * 7919) % 9500) / 100) * 100) / 100,
        stock: (id * 31) % 120,
        description: `A fine product number ${id}, described at some length so responses are worth compressing.`,
      })
    }
  }

  private wait(factor = 1): Promise<void> {
    this.calls++
    const ms = this.latencyMs * factor * (0.75 + Math.random() * 0.5)
    return new Promise((r) => setTimeout(r, ms))
  }

  async list(): Promise<Product[]> {
    await this.wait()
    return [...this.products.values()]
  }

  async get(id: number): Promise<Product | undefined> {
    await this.wait(0.5)
    return this.products.get(id)
  }

  async update(id: number, patch: Partial<Pick<Product, 'price' | 'stock'>>): Promise<Product | undefined> {
    await this.wait(0.5)
    const p = this.products.get(id)
    if (p === undefined) return undefined
    const next = { ...p, ...patch }
    this.products.set(id, next)
    return next
  }

  /** An expensive aggregate (ten times the base latency). */
  async aggregate(): Promise<Record<string, { count: number; value: number }>> {
    await this.wait(10)
    const out: Record<string, { count: number; value: number }> = {}
    for (const p of this.products.values()) {
      const a = out[p.category] ?? { count: 0, value: 0 }
      a.count++
      a.value = Math.round((a.value + p.price * p.stock) * 100) / 100
      out[p.category] = a
    }
    return out
  }
}
