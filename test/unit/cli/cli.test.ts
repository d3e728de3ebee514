import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type CliIo, COMMANDS, runCli } from '../../../src/cli/index.js'

function io(): CliIo & { output: string[]; errors: string[] } {
  const output: string[] = []
  const errors: string[] = []
  return {
    output,
    errors,
    out: (t) => output.push(t),
    err: (t) => errors.push(t),
    isTTY: false,
    onInterrupt: () => () => {},
    env: {},
  }
}

describe('hotpath (no network)', () => {
  test('the registry lists serve, loadtest and advise, each loadable', async () => {
    assert.deepEqual(
      COMMANDS.map((c) => c.name),
      ['serve', 'loadtest', 'advise'],
    )
    for (const c of COMMANDS) assert.equal(typeof (await c.load()), 'function')
  })

  test('no verb prints help and exits 2; --help exits 0; a misspelt verb gets the closest one', async () => {
    const a = io()
    assert.equal(await runCli([], a), 2)
    assert.match(a.output.join('\n'), /usage: hotpath <command>/)
    assert.equal(await runCli(['--help'], io()), 0)
    const b = io()
    assert.equal(await runCli(['lodtest'], b), 2)
    assert.match(b.errors.join('\n'), /unknown command "lodtest"; did you mean "loadtest"\?/)
  })

  test('a misspelt flag, a bad number, a bad preset and a missing target exit 2 naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['loadtest', 'http://127.0.0.1:1/', '--conections', '5'],
        /unknown flag --conections; did you mean --connections\?/,
      ],
      [
        ['loadtest', 'http://127.0.0.1:1/', '-c', 'many'],
        /--connections must be a whole number >= 1; received "many"/,
      ],
      [
        ['loadtest', 'http://127.0.0.1:1/', '--preset', 'huge'],
        /--preset must be one of light, moderate, heavy, stress/,
      ],
      [['loadtest', '-R', '10'], /give the URL to load/],
      [
        ['loadtest', 'http://127.0.0.1:1/', '-t', 'p99 is low'],
        /thresholds\[0\]: must look like "p99 < 200ms"/,
      ],
      [['loadtest', 'http://127.0.0.1:1/', '--stairs', '1,2'], /--stairs must be from,step,steps,every/],
      [['loadtest', 'merge', 'one.json'], /merge needs at least two report files/],
    ]
    for (const [argv, pattern] of cases) {
      const x = io()
      assert.equal(await runCli(argv, x), 2, argv.join(' '))
      assert.match(x.errors.join('\n'), pattern)
    }
  })

  test('regression: a flag value starting with a dash (--rate -5) said only "argument is ambiguous", not how to pass it', async () => {
    const x = io()
    assert.equal(await runCli(['loadtest', 'http://127.0.0.1:1/', '--rate', '-5'], x), 2)
    assert.match(x.errors.join('\n'), /argument is ambiguous\..*use '--rate=-XYZ'/)
  })

  test('loadtest --help lists the flags', async () => {
    const x = io()
    assert.equal(await runCli(['loadtest', '--help'], x), 0)
    assert.match(x.output.join('\n'), /--rate <n\|a-b>/)
  })
})
