/**
 * Producer dedup keys and the consumer processed-set are per address: two addresses (two
 * applications) on one Redis that use the same natural key (an order id) must not drop or skip
 * each other's messages.
 */
import assert from 'node:assert/strict'
import { after, it } from 'node:test'
import { createBus, redisTransport } from '../../../src/bus/index.js'
import { redisScope, waitUntil } from '../../helpers/services.js'

const scope = redisScope()
after(() => scope.close())

it("regression: a dedupKey used for one address refused the send of the same key to another address on the same Redis (and the processed-set mark of one address skipped the other's idempotent handler)", async () => {
  const redis = scope.client()
  const prefix = scope.prefix('key-scopes')
  const t = redisTransport({ redis, prefix, block: 100 })
  const shop = createBus({ name: 'shop', transport: t, dedupWindow: 1 })
  const billing = createBus({ name: 'billing', transport: t })
  const shipping = createBus({ name: 'shipping', transport: t })
  const charged: string[] = []
  const shipped: string[] = []
  billing.on(
    'charge',
    (order: string) => {
      charged.push(order)
    },
    { idempotent: true },
  )
  shipping.on(
    'ship',
    (order: string) => {
      shipped.push(order)
    },
    { idempotent: true },
  )
  try {
    await Promise.all([billing.whenReady(), shipping.whenReady()])
    assert.notEqual(await shop.send('billing', 'charge', 'order-1', { dedupKey: 'order-1' }), undefined)
    await waitUntil('billing to charge', () => charged.length === 1)
    await new Promise((r) => setTimeout(r, 10)) // past the 1 ms dedup window of the producer
    const shopLong = createBus({ name: 'shop2', transport: t })
    assert.notEqual(await shopLong.send('billing', 'charge', 'order-2', { dedupKey: 'order-2' }), undefined)
    assert.notEqual(
      await shopLong.send('shipping', 'ship', 'order-2', { dedupKey: 'order-2' }),
      undefined,
      'the send to shipping was not dropped as a duplicate of the one to billing',
    )
    assert.notEqual(await shop.send('shipping', 'ship', 'order-1', { dedupKey: 'order-1' }), undefined)
    await waitUntil('shipping to ship both orders', () => shipped.length === 2, 3000)
    assert.deepEqual(shipped.sort(), ['order-1', 'order-2'])
    await shopLong.close()
  } finally {
    await shop.close()
    await billing.close()
    await shipping.close()
    await t.close()
  }
})
