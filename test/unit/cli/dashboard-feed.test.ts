/** `--dashboard`'s pure parts: the ingest URL, the source check and the end-of-run line. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { UsageError } from '../../../src/cli/args.js'
import { checkSource, feedSummary, ingestUrl } from '../../../src/cli/dashboard-feed.js'

describe('--dashboard', () => {
  it('appends /ingest to the page or prefix URL, keeps one already there, drops query and hash', () => {
    assert.equal(ingestUrl('http://h:3000/dashboard'), 'http://h:3000/dashboard/ingest')
    assert.equal(ingestUrl('http://h:3000/dashboard/'), 'http://h:3000/dashboard/ingest')
    assert.equal(ingestUrl('http://h:3000/ops/dash/ingest'), 'http://h:3000/ops/dash/ingest')
    assert.equal(ingestUrl('https://h/dashboard?x=1#top'), 'https://h/dashboard/ingest')
    assert.throws(() => ingestUrl('localhost:3000/dashboard'), UsageError)
    assert.throws(() => ingestUrl('not a url'), /--dashboard must be the dashboard's URL/)
  })

  it('refuses a source the dashboard would refuse', () => {
    assert.equal(checkSource('lt.eu-1:a_b'), 'lt.eu-1:a_b')
    assert.throws(() => checkSource(''), /1-64 letters/)
    assert.throws(() => checkSource('x'.repeat(65)), /1-64 letters/)
  })

  it('says nothing at the end when every post went through; counts failures and skips otherwise', () => {
    const url = 'http://h/dashboard/ingest'
    assert.equal(feedSummary({ posted: 10, failed: 0, skipped: 0 }, url), undefined)
    assert.equal(
      feedSummary({ posted: 7, failed: 3, skipped: 1, firstError: 'ECONNREFUSED' }, url),
      'dashboard: 3 of 10 posts to http://h/dashboard/ingest failed (first: ECONNREFUSED); 1 seconds skipped while a post was pending',
    )
  })
})
