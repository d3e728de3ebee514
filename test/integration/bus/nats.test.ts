import { type NatsTransport, natsTransport } from '../../../src/bus/index.js'
import { PrivateServer } from '../../helpers/private-servers.js'
import { cleanupNats, NATS_URL, uniqueStream } from '../../helpers/services.js'
import { busConformance } from './conformance.js'

const stream = uniqueStream('bus')

busConformance('nats jetstream', {
  make: (o) => natsTransport({ servers: NATS_URL, stream, ackWait: o?.claimIdle ?? 5000 }),
  durable: true,
  crash: (t) => (t as NatsTransport).abandon(),
  cleanup: () => cleanupNats(stream),
  restart: {
    server: () => PrivateServer.nats(),
    make: (url) => natsTransport({ servers: url, stream, ackWait: 1000 }),
  },
})
