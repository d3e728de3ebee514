import { type RedisTransport, redisTransport } from '../../../src/bus/index.js'
import { cleanupPrefix, REDIS_URL, uniquePrefix } from '../../helpers/services.js'
import { busConformance } from './conformance.js'

const prefix = uniquePrefix('bus')

busConformance('redis streams', {
  make: (o) =>
    redisTransport({
      redis: REDIS_URL,
      prefix,
      block: 200,
      promoteEvery: 10,
      claimIdle: o?.claimIdle ?? 5000,
    }),
  durable: true,
  crash: (t) => (t as RedisTransport).abandon(),
  cleanup: () => cleanupPrefix(prefix),
})
