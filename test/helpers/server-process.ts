/** The child-process side shared by the private test servers: freeze, thaw and kill -9. */
import type { ChildProcess } from 'node:child_process'

export class ServerProcess {
  protected child: ChildProcess | undefined

  /** Freezes the server (SIGSTOP): connections stay open and nothing is answered. */
  pause(): void {
    this.child?.kill('SIGSTOP')
  }

  resume(): void {
    this.child?.kill('SIGCONT')
  }

  /** kill -9 (thawed first, so a frozen server dies too): connections drop and are refused until restarted. */
  async stop(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (!child || child.exitCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    child.kill('SIGCONT')
    await exited
  }
}
