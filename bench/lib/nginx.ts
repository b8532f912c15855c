/**
 * The one nginx launcher: Debian's nginx in the foreground on a configuration written to a throw-away
 * prefix folder. The local fleet (bench/fleet.ts, deploy/nginx.conf rewritten) and the proxy tests
 * (test/helpers/nginx.ts, a minimal proxy) both start nginx through it, so both run it the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { waitForStatus } from './net';

export interface NginxOptions {
  /** The nginx binary. */
  bin: string;
  /** nginx's prefix folder (-p): the configuration is written there; pid and temp paths should point there too. */
  dir: string;
  /** The whole nginx.conf; `daemon off;` is added in front (nginx must stay the child the caller stops). */
  config: string;
  /** The port the configuration listens on, to wait for. */
  port: number;
  /** Every chunk nginx writes to stdout or stderr. */
  onOutput?: (text: string) => void;
  /** How long nginx may take to answer 200 on /healthz through its upstream (default 15 s). */
  timeoutMs?: number;
}

export class Nginx {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly config: string,
  ) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts nginx and resolves once it answers 200 on /healthz (so its upstream is reachable too). */
  static async start(options: NginxOptions): Promise<Nginx> {
    const config = `daemon off;\n${options.config}`;
    const confPath = path.join(options.dir, 'nginx.conf');
    writeFileSync(confPath, config);
    const child = spawn(options.bin, ['-p', options.dir, '-c', confPath, '-e', 'stderr'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (d: Buffer) => {
      output += d.toString();
      options.onOutput?.(d.toString());
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const nginx = new Nginx(child, options.port, config);
    try {
      await waitForStatus(`nginx (port ${options.port})`, options.port, '/healthz', {
        child,
        timeoutMs: options.timeoutMs ?? 15_000,
        everyMs: 50,
        describe: () => output,
      });
    } catch (err) {
      await nginx.stop();
      throw err;
    }
    return nginx;
  }

  /** Graceful stop (SIGQUIT: nginx finishes the requests it holds), resolved once it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGQUIT'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }
}
