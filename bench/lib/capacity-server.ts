/**
 * A loopback HTTP server with a fixed capacity, for the adaptive-limit benchmark: `workers`
 * requests are served at once, each taking `serviceMs`; the rest wait in an unbounded FIFO, as
 * an overloaded backend does. Prints its port on stdout. Only listens on 127.0.0.1.
 */
import http from 'node:http'

const workers = Number(process.argv[2] ?? 4)
const serviceMs = Number(process.argv[3] ?? 10)
let busy = 0
const queue: Array<() => void> = []

function release(): void {
  const next = queue.shift()
  if (next) next()
  else busy--
}

const server = http.createServer((_req, res) => {
  const serve = () => {
    setTimeout(() => {
      res.end('ok')
      release()
    }, serviceMs)
  }
  if (busy < workers) {
    busy++
    serve()
  } else queue.push(serve)
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const addr = server.address()
  process.stdout.write(`${typeof addr === 'object' && addr ? addr.port : 0}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
