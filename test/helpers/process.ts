import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { until } from './wait';

export const MAIN = path.resolve('dist/src/main.js');

/** The real entry point as a child process, with its JSON log lines collected. */
export class ServerProcess {
  readonly lines: Array<Record<string, any>> = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly child: ChildProcess;
  private partial = '';

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, NODE_ENV: 'test', LOG_LEVEL: 'info', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d) => {
      const text = this.partial + String(d);
      const parts = text.split('\n');
      this.partial = parts.pop()!;
      for (const p of parts) if (p.trim()) this.lines.push(JSON.parse(p));
    });
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  count(msg: string): number {
    return this.lines.filter((l) => l.msg === msg).length;
  }

  async waitFor(msg: string, times = 1, timeoutMs = 60_000): Promise<void> {
    await until(`${times} "${msg}" log line(s)`, () => this.count(msg) >= times, { timeoutMs, everyMs: 50 });
  }

  /** Stops it for good (tests call this in `after` whatever happened). */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
