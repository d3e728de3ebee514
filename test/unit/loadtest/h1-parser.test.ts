/**
 * The `net` client's response parser: the same events whatever the chunking (every split point
 * and byte by byte), chunked bodies with extensions and trailers, 1xx skipped, HEAD/204/304
 * without body, keep-alive rules, and malformed responses as coded errors, never throws.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { errors } from 'undici'
import { MAX_HEAD_BYTES, ResponseParser, type ResponseSink } from '../../../src/loadtest/h1-parser.js'
import { encodeRequest } from '../../../src/loadtest/h1-request.js'
import { errorKind } from '../../../src/loadtest/sent.js'

interface Parsed {
  status: number
  headers: Record<string, string | string[]> | undefined
  body: string
  keepAlive: boolean | undefined
}

/** Records every response; `heads[i]` says response i answers a HEAD request. */
class Recorder implements ResponseSink {
  readonly responses: Parsed[] = []
  private current: Parsed | undefined
  constructor(
    private readonly collect = false,
    private readonly heads: boolean[] = [],
  ) {}
  wantsHeaders(): boolean {
    return this.collect
  }
  onHead(status: number, headers: Record<string, string | string[]> | undefined): boolean {
    this.current = { status, headers, body: '', keepAlive: undefined }
    this.responses.push(this.current)
    return this.heads[this.responses.length - 1] ?? false
  }
  onBody(buf: Buffer, start: number, end: number): void {
    ;(this.current as Parsed).body += buf.toString('latin1', start, end)
  }
  onEnd(keepAlive: boolean): void {
    ;(this.current as Parsed).keepAlive = keepAlive
  }
}

interface Outcome {
  responses: Parsed[]
  error: string | undefined
  finished: boolean
}

function parse(pieces: Buffer[], collect = false, heads: boolean[] = []): Outcome {
  const sink = new Recorder(collect, heads)
  const parser = new ResponseParser(sink)
  for (const piece of pieces) {
    const error = parser.execute(piece)
    if (error !== undefined) return { responses: sink.responses, error, finished: false }
  }
  return { responses: sink.responses, error: undefined, finished: parser.finish() }
}

/** Parses `text` whole, split in two at every byte boundary, and byte by byte: all must agree. */
function parseEverySplit(text: string, collect = false, heads: boolean[] = []): Outcome {
  const buf = Buffer.from(text, 'latin1')
  const whole = parse([buf], collect, heads)
  for (let i = 1; i < buf.length; i++) {
    const split = parse([buf.subarray(0, i), buf.subarray(i)], collect, heads)
    assert.deepEqual(split, whole, `split at byte ${i}`)
  }
  const bytes = parse(
    [...buf].map((b) => Buffer.from([b])),
    collect,
    heads,
  )
  assert.deepEqual(bytes, whole, 'byte by byte')
  return whole
}

describe('ResponseParser', () => {
  test('Content-Length responses, pipelined in one buffer, at every split point', () => {
    const r = parseEverySplit(
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nx-a: 1\r\n\r\nnop',
    )
    assert.equal(r.error, undefined)
    assert.deepEqual(
      r.responses.map((x) => [x.status, x.body, x.keepAlive]),
      [
        [200, 'hello', true],
        [404, 'nop', true],
      ],
    )
    assert.equal(r.finished, true)
  })

  test('chunked body with extensions and trailers, at every split point', () => {
    const r = parseEverySplit(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n' +
        '5;name=value\r\nhello\r\n' +
        'A ; a=1;b="x y"\r\n, world!!!\r\n' +
        '0;last\r\nx-trailer: 1\r\nx-other: 2\r\n\r\n' +
        'HTTP/1.1 204 No Content\r\n\r\n',
      true,
    )
    assert.equal(r.error, undefined)
    assert.equal(r.responses.length, 2)
    assert.equal(r.responses[0]?.body, 'hello, world!!!')
    assert.equal(r.responses[0]?.keepAlive, true)
    assert.equal(r.responses[0]?.headers?.['x-trailer'], undefined)
    assert.equal(r.responses[1]?.status, 204)
  })

  test('1xx responses are skipped: the final response is the one reported', () => {
    const r = parseEverySplit(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n' +
        'HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok',
      true,
    )
    assert.equal(r.error, undefined)
    assert.deepEqual(
      r.responses.map((x) => [x.status, x.body, x.headers?.link]),
      [[201, 'ok', undefined]],
    )
  })

  test('HEAD, 204 and 304 carry no body even with a Content-Length', () => {
    const r = parseEverySplit(
      'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n' +
        'HTTP/1.1 204 No Content\r\ncontent-length: 7\r\n\r\n' +
        'HTTP/1.1 304 Not Modified\r\ncontent-length: 4\r\n\r\n' +
        'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody',
      false,
      [true],
    )
    assert.equal(r.error, undefined)
    assert.deepEqual(
      r.responses.map((x) => [x.status, x.body]),
      [
        [200, ''],
        [204, ''],
        [304, ''],
        [200, 'body'],
      ],
    )
  })

  test('keep-alive: Connection: close, HTTP/1.0 defaults, a body read until the connection closes', () => {
    const close = parseEverySplit(
      'HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\ncontent-length: 0\r\n\r\n',
    )
    assert.equal(close.responses[0]?.keepAlive, false)
    const old = parseEverySplit('HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx')
    assert.equal(old.responses[0]?.keepAlive, false)
    const oldKeep = parseEverySplit('HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 1\r\n\r\nx')
    assert.equal(oldKeep.responses[0]?.keepAlive, true)
    const untilClose = parseEverySplit('HTTP/1.1 200 OK\r\n\r\nall of it')
    assert.equal(untilClose.finished, true)
    assert.deepEqual(untilClose.responses, [
      { status: 200, headers: undefined, body: 'all of it', keepAlive: false },
    ])
  })

  test('a connection closed mid-response is reported by finish() as cut short', () => {
    assert.equal(parse([Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhal')]).finished, false)
    assert.equal(parse([Buffer.from('HTTP/1.1 200 OK\r\ncontent-le')]).finished, false)
    assert.equal(parse([Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx')]).finished, true)
  })

  test('headers when asked for: names lower-cased, repeats as a list, obs-fold joined', () => {
    const r = parseEverySplit(
      'HTTP/1.1 200 OK\r\nETag: "v1"\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Long: one\r\n two\r\ncontent-length: 0\r\n\r\n',
      true,
    )
    assert.deepEqual(r.responses[0]?.headers, {
      etag: '"v1"',
      'set-cookie': ['a=1', 'b=2'],
      'x-long': 'one two',
      'content-length': '0',
    })
    assert.equal(parse([Buffer.from('HTTP/1.1 200 OK\r\netag: x\r\n\r\n')]).responses[0]?.headers, undefined)
  })

  test('malformed responses are coded errors (the same at every split point), never a throw', () => {
    const cases: Array<[string, string]> = [
      ['garbage\r\n\r\n', 'HPE_INVALID_CONSTANT'],
      ['HTTP/2 200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT'],
      ['HTTP/1.1 2x0 OK\r\n\r\n', 'HPE_INVALID_STATUS'],
      ['HTTP/1.1 099 Low\r\n\r\n', 'HPE_INVALID_STATUS'],
      ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
      ['HTTP/1.1 200 OK\r\nbad : space\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
      ['HTTP/1.1 200 OK\r\ncontent-length: abc\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
      ['HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
      [
        'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok',
        'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
      ],
      [
        'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n',
        'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
      ],
      ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 'HPE_INVALID_CHUNK_SIZE'],
      ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2x\r\nok\r\n', 'HPE_INVALID_CHUNK_SIZE'],
      ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokXX\r\n', 'HPE_INVALID_CHUNK_SIZE'],
      [
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffffff\r\n',
        'HPE_INVALID_CHUNK_SIZE',
      ],
      ['HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n', 'UND_ERR_SOCKET'],
      [`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`, 'UND_ERR_HEADERS_OVERFLOW'],
      [`HTTP/1.1 200 OK\r\n${'x-h: 1234567890\r\n'.repeat(1100)}\r\n`, 'UND_ERR_HEADERS_OVERFLOW'],
    ]
    for (const [text, code] of cases) {
      const buf = Buffer.from(text, 'latin1')
      assert.equal(parse([buf]).error, code, text.slice(0, 60))
      if (buf.length < 200) {
        for (let i = 1; i < buf.length; i++)
          assert.equal(parse([buf.subarray(0, i), buf.subarray(i)]).error, code, `${text} split at ${i}`)
      }
    }
  })

  test('random bytes after a valid status line never throw', () => {
    let seed = 42
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed
    }
    for (let n = 0; n < 500; n++) {
      const noise = Buffer.from(Array.from({ length: random() % 120 }, () => random() % 256))
      const pieces = [Buffer.from('HTTP/1.1 200 OK\r\n'), noise, Buffer.from('\r\n\r\n'), noise]
      assert.doesNotThrow(() => parse(pieces, true))
      assert.doesNotThrow(() => parse([noise, noise], true))
    }
  })
})

describe('encodeRequest', () => {
  test('request line, host, headers, content-length in bytes of the UTF-8 body', () => {
    assert.equal(
      encodeRequest('POST', '/a?b=1', '127.0.0.1:8080', { 'content-type': 'text/plain' }, 'héllo'),
      'POST /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-type: text/plain\r\ncontent-length: 6\r\n\r\nhéllo',
    )
    assert.equal(encodeRequest('GET', '/', 'h', undefined, undefined), 'GET / HTTP/1.1\r\nhost: h\r\n\r\n')
    // undici sends content-length: 0 for a body-less POST/PUT/PATCH
    assert.match(encodeRequest('PUT', '/', 'h', undefined, undefined) ?? '', /content-length: 0\r\n\r\n$/)
  })

  test('a header value or path that would split the request is refused', () => {
    assert.equal(encodeRequest('GET', '/', 'h', { x: 'a\r\nb: c' }, undefined), undefined)
    assert.equal(encodeRequest('GET', '/a\nb', 'h', undefined, undefined), undefined)
  })
})

describe('errorKind', () => {
  test("undici's uncoded HTTPParserError gets llhttp's code by its reason", () => {
    const e = (reason: string): unknown =>
      new errors.HTTPParserError(`Response does not match the HTTP/1.1 protocol (${reason})`)
    assert.equal(errorKind(e('Invalid status code')), 'HPE_INVALID_STATUS')
    assert.equal(errorKind(e('Expected HTTP/, RTSP/ or ICE/')), 'HPE_INVALID_CONSTANT')
    assert.equal(errorKind(e('Invalid character in chunk size')), 'HPE_INVALID_CHUNK_SIZE')
    assert.equal(errorKind(e('Invalid header value char')), 'HPE_INVALID_HEADER_TOKEN')
    assert.equal(errorKind(e('Invalid character in Content-Length')), 'HPE_INVALID_CONTENT_LENGTH')
    assert.equal(errorKind(Object.assign(new Error('x'), { code: 'ECONNRESET' })), 'ECONNRESET')
  })
})
