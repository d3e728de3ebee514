#!/usr/bin/env node
// CI smoke test of the README's `npm start` on the current Node: the reference server starts on
// embedded defaults, answers /health and /api/catalog, and drains and exits on SIGINT.
import { spawn } from 'node:child_process'

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const child = spawn(npm, ['start'], {
  cwd: new URL('..', import.meta.url),
  env: { ...process.env, PORT: '0', PERFORMANCE_MONITORING_ENABLED: 'true' },
  stdio: ['ignore', 'pipe', 'inherit'],
  detached: true, // its own process group: SIGINT reaches npm, tsx and the server like a Ctrl-C
})
const fail = (message) => {
  console.error(`npm start smoke test: ${message}`)
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {}
  process.exit(1)
}
const timer = setTimeout(() => fail('no "listening on" line within 60 s'), 60_000)
let out = ''
child.stdout.setEncoding('utf8')
child.stdout.on('data', async (chunk) => {
  out += chunk
  const m = /listening on (http:\/\/\S+)/.exec(out)
  if (m === null || timer.hasRef() === false) return
  clearTimeout(timer)
  timer.unref()
  const base = m[1]
  for (const path of ['/health', '/api/catalog']) {
    const res = await fetch(base + path).catch((err) => fail(`GET ${path}: ${err.message}`))
    if (res.status !== 200) fail(`GET ${path} answered ${res.status}`)
    await res.arrayBuffer()
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  process.kill(-child.pid, 'SIGINT')
  const stop = setTimeout(() => fail('did not exit within 15 s of SIGINT'), 15_000)
  const { code, signal } = await exited
  clearTimeout(stop)
  // npm re-raises a signal its script ended by, as a shell's Ctrl-C would show it
  if (code !== 0 && code !== 130 && signal !== 'SIGINT') fail(`exited with ${code ?? signal} after SIGINT`)
  if (!out.includes('draining')) fail(`did not drain on SIGINT:\n${out}`)
  console.log(
    `npm start on Node ${process.version}: ${base} answered /health and /api/catalog, drained and exited on SIGINT`,
  )
})
child.once('exit', (code, signal) => {
  if (timer.hasRef()) fail(`exited with ${code ?? signal} before listening:\n${out}`)
})
