import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { nextCounts } from '../../../src/bus/redis-consumer.js'

// the default budgets: readCount 256 split by the weights 8/4/2/1
const BUDGETS = [137, 68, 34, 17]
const next = (asked: number[], read: number[]): number[] => {
  const out = [0, 0, 0, 0]
  nextCounts(BUDGETS, asked, read, out)
  return out
}

describe('the Redis read loop: work-conserving class budgets', () => {
  test('every class busy: each reads its own budget (the weights hold)', () => {
    assert.deepEqual(next(BUDGETS, BUDGETS), BUDGETS)
  })

  test('one busy class reads the whole readCount, not its weight share (34 a turn for normal): a dead consumer’s split packs are single entries', () => {
    const out = next(BUDGETS, [0, 0, 34, 0])
    assert.equal(out[2], 34 + 137 + 68 + 17)
    assert.deepEqual([out[0], out[1], out[3]], [137, 68, 17])
  })

  test('two busy classes share the spare room in proportion to their budgets', () => {
    const out = next(BUDGETS, [137, 10, 34, 0])
    const spare = 68 - 10 + 17
    assert.equal(out[0], 137 + Math.floor((spare * 137) / (137 + 34)))
    assert.equal(out[2], 34 + Math.floor((spare * 34) / (137 + 34)))
    assert.equal(out[1], 68)
    assert.equal(out[3], 17)
  })

  test('a short class keeps its own budget (traffic arriving there is read at once), and a turn asks at most twice readCount', () => {
    const readCount = BUDGETS.reduce((a, b) => a + b, 0)
    for (let mask = 0; mask < 16; mask++) {
      const read = BUDGETS.map((b, p) => ((mask >> p) & 1 ? b : Math.floor(b / 3)))
      const out = next(BUDGETS, read)
      for (let p = 0; p < 4; p++)
        assert.ok((out[p] as number) >= (BUDGETS[p] as number), `mask ${mask}, class ${p}`)
      const total = out.reduce((a, b) => a + b, 0)
      assert.ok(total <= 2 * readCount, `mask ${mask}: ${total} > 2 x ${readCount}`)
    }
  })

  test('a class that filled a larger count than its budget keeps the larger count only while the others stay short', () => {
    const grown = next(BUDGETS, [0, 0, 34, 0])
    // the next turn: urgent arrives and fills its budget, normal fills its grown count
    const out = next(grown, [137, 0, grown[2] as number, 0])
    assert.equal(out[0], 137 + Math.floor(((68 + 17) * 137) / (137 + 34)))
    assert.equal(out[2], 34 + Math.floor(((68 + 17) * 34) / (137 + 34)))
  })

  test('nothing read anywhere: back to the budgets', () => {
    assert.deepEqual(next(BUDGETS, [0, 0, 0, 0]), BUDGETS)
  })
})
