import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  compressible,
  etagMatches,
  negotiateEncoding,
  normalizeUrl,
  parseCacheControl,
  parseEtagList,
  seconds,
  storableHeaders,
} from '../../../src/fastify/http.js'

describe('HTTP helpers', () => {
  it('parses Cache-Control directives', () => {
    const d = parseCacheControl('public, max-age=60, s-maxage="120", No-Store')
    assert.equal(d.get('public'), true)
    assert.equal(seconds(d, 'max-age'), 60)
    assert.equal(seconds(d, 's-maxage'), 120)
    assert.equal(d.has('no-store'), true)
    assert.equal(seconds(parseCacheControl('max-age=abc'), 'max-age'), undefined)
  })

  it('drops hop-by-hop headers, those named in Connection, Set-Cookie and computed ones', () => {
    const h = storableHeaders({
      connection: 'x-private',
      'x-private': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'set-cookie': ['a=1'],
      'content-length': '10',
      'content-type': 'application/json',
      'x-custom': ['a', 'b'],
    })
    assert.deepEqual(h, { 'content-type': 'application/json', 'x-custom': 'a, b' })
  })

  it('compares entity tags weakly, in lists and with *', () => {
    assert.equal(etagMatches(parseEtagList('"a", W/"b"'), '"b"'), true)
    assert.equal(etagMatches(parseEtagList('W/"a"'), '"a"'), true)
    assert.equal(etagMatches(parseEtagList('"a"'), 'W/"a"'), true)
    assert.equal(etagMatches(parseEtagList('"a"'), '"c"'), false)
    assert.equal(etagMatches(parseEtagList('*'), '"anything"'), true)
    assert.equal(etagMatches(parseEtagList(undefined), '"a"'), false)
  })

  it('negotiates encodings by q-value, honouring q=0 and *', () => {
    const all = ['br', 'gzip', 'identity'] as const
    assert.equal(negotiateEncoding('gzip, deflate, br', all), 'br')
    assert.equal(negotiateEncoding('gzip;q=1, br;q=0.5', all), 'gzip')
    assert.equal(negotiateEncoding('br;q=0, gzip;q=0', all), 'identity')
    assert.equal(negotiateEncoding('*', all), 'br')
    assert.equal(negotiateEncoding('*;q=0, gzip', all), 'gzip')
    assert.equal(negotiateEncoding(undefined, all), 'identity')
    assert.equal(negotiateEncoding('br', ['identity']), 'identity')
  })

  it('an invalid q-value makes its member invalid, never q=1 (issue 10 defect 9)', () => {
    const all = ['br', 'zstd', 'gzip', 'identity'] as const
    assert.equal(negotiateEncoding('br;q=-1', all), 'identity')
    assert.equal(negotiateEncoding('gzip;q=abc', all), 'identity')
    assert.equal(negotiateEncoding('br;q=2, gzip;q=0.5', all), 'gzip')
    assert.equal(negotiateEncoding('br;q=0.1234, gzip;q=0.2', all), 'gzip', 'four decimals are not a qvalue')
    assert.equal(negotiateEncoding('br;q=1.000, gzip', all), 'br')
    assert.equal(negotiateEncoding('zstd, br;q=0.9', all), 'zstd')
  })

  it('applies the router options that make two paths one route (issue 10 defect 4)', () => {
    const o = { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, caseSensitive: false }
    assert.equal(normalizeUrl('//Api//Items/?b=1', o), '/api/items?b=1')
    assert.equal(normalizeUrl('/a;b=1', { useSemicolonDelimiter: true }), '/a?b=1')
    assert.equal(normalizeUrl('/A/'), '/A/')
  })

  it('normalizes URLs as the router sees them', () => {
    assert.equal(normalizeUrl('/a?b=2&a=1&b=1'), '/a?a=1&b=2&b=1')
    assert.equal(normalizeUrl('/%7euser/%61'), '/~user/a')
    assert.equal(normalizeUrl('/a%2fb'), '/a%2Fb', 'an encoded slash stays encoded')
    assert.equal(normalizeUrl('/a/'), '/a/')
    assert.equal(normalizeUrl('/a/', { ignoreTrailingSlash: true }), '/a')
    assert.equal(normalizeUrl('/s?q=x&utm=1&page=2', { queryKeys: ['q', 'page'] }), '/s?page=2&q=x')
    assert.equal(normalizeUrl('/s?utm=1', { queryKeys: ['q'] }), '/s')
  })

  it('knows which types are worth compressing', () => {
    assert.equal(compressible('application/json; charset=utf-8'), true)
    assert.equal(compressible('text/html'), true)
    assert.equal(compressible('application/vnd.api+json'), true)
    assert.equal(compressible('image/png'), false)
    assert.equal(compressible(undefined), false)
  })
})
