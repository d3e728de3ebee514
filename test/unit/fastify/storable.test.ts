import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseCacheControl } from '../../../src/fastify/http.js'
import {
  type Exchange,
  freshnessLeftMs,
  originAge,
  perRequestHeader,
  storable,
  unstorableReason,
} from '../../../src/fastify/response-cache/storable.js'

const limits = { statuses: new Set([200]), maxBodyBytes: 100 }
const ok: Exchange = {
  method: 'GET',
  requestNoStore: false,
  credentials: false,
  identityKeyed: false,
  status: 200,
  headers: { 'content-type': 'application/json' },
  payload: '{"a":1}',
}
const why = (x: Partial<Exchange>) => {
  const e = { ...ok, ...x }
  return unstorableReason(e, limits, parseCacheControl(e.headers['cache-control'] as string | undefined))
}

describe('storable (RFC 9111 section 3)', () => {
  it('stores a plain 200 GET', () => assert.equal(storable(ok, limits), true))

  it('refuses what a shared cache must not store, naming why', () => {
    assert.equal(why({ method: 'POST' }), 'method')
    assert.equal(why({ requestNoStore: true }), 'request-no-store')
    assert.equal(why({ status: 500 }), 'status-500')
    assert.equal(why({ headers: { 'set-cookie': 'a=1' } }), 'set-cookie')
    assert.equal(why({ headers: { 'cache-control': 'private' } }), 'private')
    assert.equal(why({ headers: { 'cache-control': 'no-store' } }), 'no-store')
    assert.equal(why({ headers: { vary: 'accept, *' } }), 'vary-star')
    assert.equal(why({ credentials: true }), 'credentials')
    assert.equal(why({ credentials: true, headers: { 'cache-control': 'public' } }), undefined)
    assert.equal(why({ payload: 'x'.repeat(101) }), 'too-large')
  })

  it("counts the origin's Age against freshness (issue 10 defect 8)", () => {
    assert.equal(freshnessLeftMs(parseCacheControl('max-age=3'), 2, 60_000), 1000)
    assert.equal(freshnessLeftMs(parseCacheControl('s-maxage=10, max-age=3'), 0, 60_000), 10_000)
    assert.equal(freshnessLeftMs(parseCacheControl(undefined), 5, 60_000), 55_000)
    assert.equal(freshnessLeftMs(parseCacheControl('max-age=1'), 9, 60_000), 0)
    assert.equal(originAge('2'), 2)
    assert.equal(originAge('-1'), 0)
    assert.equal(originAge('abc'), 0)
  })

  it('knows per-request headers (issue 10 defect 7)', () => {
    for (const h of ['ratelimit', 'ratelimit-policy', 'x-ratelimit-remaining', 'retry-after'])
      assert.ok(perRequestHeader(h), h)
    assert.equal(perRequestHeader('content-type'), false)
  })
})
