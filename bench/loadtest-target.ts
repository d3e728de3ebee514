/**
 * Load-test bench targets, each in its own process (prints its port): `trivial` answers "ok" at
 * once; `freeze` does the same but blocks its event loop for 1 s every 5 s (the research note's
 * coordinated-omission target). Only listens on 127.0.0.1.
 */
import http from 'node:http'

const mode = process.argv[2] ?? 'trivial'
const server = http.createServer((_req, res) => {
  res.end('ok')
})
if (mode === 'freeze') {
  setInterval(() => {
    const until = Date.now() + 1000
    while (Date.now() < until);
  }, 5000)
}
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  console.log(typeof address === 'object' && address !== null ? address.port : 0)
})
