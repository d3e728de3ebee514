import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { z } from 'zod'
import { Harness, primeL1 } from './support.js'

const h = new Harness()
after(() => h.close())

const UserV2 = z.object({ id: z.number(), name: z.string(), email: z.string() })
type UserV2 = z.infer<typeof UserV2>
/** The same schema, validated asynchronously (Standard Schema validate() returns a Promise). */
const UserV2Async = UserV2.refine(async () => true)

describe('schema-aware reads against values of an older version', () => {
  it('getOrSet with a zod schema treats an old L2 value as a miss and reloads it once', async () => {
    const prefix = h.prefix('schema-l2')
    const oldVersion = h.cache(prefix)
    await oldVersion.set('u:1', { id: 1, name: 'Ada' })
    const b = h.cache(prefix)
    let calls = 0
    const loader = (): UserV2 => {
      calls++
      return { id: 1, name: 'Ada', email: 'ada@example.com' }
    }
    const u = await b.getOrSet('u:1', loader, { schema: UserV2 })
    assert.deepEqual(u, { id: 1, name: 'Ada', email: 'ada@example.com' })
    assert.equal(calls, 1)
    // the reloaded value replaced the old one in L2: a third instance reads it without loading
    const c = h.cache(prefix, { memory: false })
    assert.deepEqual(await c.getOrSet('u:1', loader, { schema: UserV2 }), u)
    assert.equal(calls, 1)
  })

  it('an old value in the reader own L1 is dropped and reloaded, not thrown', async () => {
    const prefix = h.prefix('schema-l1')
    const a = h.cache(prefix)
    await a.set('u:2', { id: 2, name: 'Grace' })
    assert.deepEqual(a.getSync('u:2'), { id: 2, name: 'Grace' })
    let calls = 0
    const u = await a.getOrSet(
      'u:2',
      () => {
        calls++
        return { id: 2, name: 'Grace', email: 'grace@example.com' }
      },
      { schema: UserV2 },
    )
    assert.equal(u.email, 'grace@example.com')
    assert.equal(calls, 1)
    assert.deepEqual(a.getSync('u:2'), u, 'L1 now holds the new version')
  })

  it('an asynchronous schema behaves the same; get/getMany return undefined for an invalid value', async () => {
    const prefix = h.prefix('schema-async')
    const oldVersion = h.cache(prefix)
    await oldVersion.set('u:3', { id: 3, name: 'Linus' })
    await oldVersion.set('u:4', { id: 4, name: 'Ken', email: 'ken@example.com' })
    const b = h.cache(prefix)
    assert.equal(await b.get('u:3', { schema: UserV2Async }), undefined)
    assert.deepEqual(await b.getMany(['u:3', 'u:4'], { schema: UserV2Async }), [
      undefined,
      { id: 4, name: 'Ken', email: 'ken@example.com' },
    ])
    let calls = 0
    const u = await b.getOrSet(
      'u:3',
      () => {
        calls++
        return { id: 3, name: 'Linus', email: 'linus@example.com' }
      },
      { schema: UserV2Async },
    )
    assert.equal(u.email, 'linus@example.com')
    assert.equal(calls, 1)
  })

  it('getOrSetMany with a schema reloads only the keys whose cached value is invalid', async () => {
    const prefix = h.prefix('schema-many')
    const oldVersion = h.cache(prefix)
    await oldVersion.set('u:5', { id: 5, name: 'old' })
    await oldVersion.set('u:6', { id: 6, name: 'ok', email: 'ok@example.com' })
    const b = h.cache(prefix)
    await primeL1(b, 'u:5', { id: 5, name: 'old' }, oldVersion)
    const asked: string[][] = []
    const values = await b.getOrSetMany(
      ['u:5', 'u:6'],
      async (keys) => {
        asked.push(keys)
        return keys.map((k) => ({ id: Number(k.slice(2)), name: 'new', email: 'new@example.com' }))
      },
      { schema: UserV2 },
    )
    assert.deepEqual(asked, [['u:5']])
    assert.deepEqual(values, [
      { id: 5, name: 'new', email: 'new@example.com' },
      { id: 6, name: 'ok', email: 'ok@example.com' },
    ])
  })
})
