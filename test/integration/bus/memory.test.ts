import { memoryTransport } from '../../../src/bus/index.js'
import { busConformance } from './conformance.js'

busConformance('memory', {
  make: () => memoryTransport(),
  durable: false,
  cleanup: async () => {},
})
