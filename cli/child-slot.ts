// The one child process a launcher runs at a time (a clickhouse-server, a ZooKeeper), started again after a crash or
// a stop: who it is now, when it has gone, and a stop that escalates to SIGKILL. Every child still running when this
// process exits is killed with it, so none outlives a crashed test worker or demo.
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAllAtExit(proc: ChildProcess): void {
  running.add(proc);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of running) p.kill('SIGKILL');
  });
}

export class ChildSlot {
  private proc: ChildProcess | null = null;
  private gone: Promise<void> = Promise.resolve();

  /** The running child, or null once it has exited (or failed to spawn). */
  get current(): ChildProcess | null {
    return this.proc;
  }

  /** Takes a freshly spawned child as the slot's one. */
  adopt(proc: ChildProcess): void {
    killAllAtExit(proc);
    this.proc = proc;
    this.gone = new Promise<void>((resolve) => {
      const onGone = () => {
        running.delete(proc);
        if (this.proc === proc) this.proc = null;
        resolve();
      };
      proc.once('exit', onGone);
      proc.once('error', onGone);
    });
  }

  /** Sends `signal`, then SIGKILL after `graceMs`, and resolves once the child has exited. */
  async signalAndWait(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const proc = this.proc;
    if (proc === null) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await this.gone;
    clearTimeout(timer);
  }
}
