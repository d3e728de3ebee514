/**
 * Load-test bench targets, each in its own process (prints its port): `trivial` answers "ok" at
 * once; `freeze` does the same but blocks its event loop for 1 s every 5 s (the research note's
 * coordinated-omission target); `cluster` is `trivial` served by two node:cluster workers sharing
 * one port (the primary hands connections out in turn), so one target process is not the limit.
 * Only listens on 127.0.0.1.
 */
import cluster from 'node:cluster'
import http from 'node:http'

const mode = process.argv[2] ?? 'trivial'

function serve(port: number, onListening: (port: number) => void): void {
  const server = http.createServer((_req, res) => {
    res.end('ok')
  })
  server.keepAliveTimeout = 60_000
  server.listen(port, '127.0.0.1', () => {
    const address = server.address()
    onListening(typeof address === 'object' && address !== null ? address.port : 0)
  })
}

if (mode === 'cluster' && cluster.isPrimary) {
  // Workers share a port fixed here (0 would give each worker its own): find a free one first.
  const probe = http.createServer().listen(0, '127.0.0.1', () => {
    const address = probe.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    probe.close(() => {
      let listening = 0
      for (let i = 0; i < 2; i++) {
        cluster.fork({ TARGET_PORT: String(port) }).on('listening', () => {
          if (++listening === 2) console.log(port)
        })
      }
    })
  })
  // The bench kills the primary with SIGTERM: the workers go with it.
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill()
    process.exit(0)
  })
} else if (mode === 'cluster') {
  serve(Number(process.env.TARGET_PORT), () => {})
} else {
  if (mode === 'freeze') {
    setInterval(() => {
      const until = Date.now() + 1000
      while (Date.now() < until);
    }, 5000)
  }
  serve(0, (port) => console.log(port))
}
