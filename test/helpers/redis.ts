import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from '../../bench/lib/net';

/** Where redis-server is, or undefined. CI installs it with apt (.ci/run). */
export function findRedisServer(): string | undefined {
  for (const candidate of [process.env.REDIS_SERVER_BIN, 'redis-server', '/usr/bin/redis-server', '/usr/local/bin/redis-server']) {
    if (!candidate) continue;
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/**
 * For `describe(..., { skip })`: in CI (CI=true) a missing redis-server must fail the run, not skip it;
 * locally the Redis tests may be skipped with a message.
 */
export function redisSkipReason(): string | false {
  if (findRedisServer()) return false;
  if (process.env.CI === 'true') {
    throw new Error('redis-server is not installed, but CI=true: the Redis rate-limit tests must run in CI (apt-get install redis-server)');
  }
  return 'redis-server not found on PATH (install redis-server to run the Redis rate-limit tests)';
}

/** A throw-away redis-server on 127.0.0.1:port, no persistence. `stop()` kills it (SIGKILL: "Redis goes away"). */
export class RedisProcess {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(port?: number): Promise<RedisProcess> {
    const r = new RedisProcess(port ?? (await freePort()));
    await r.start();
    return r;
  }

  async start(): Promise<void> {
    const bin = findRedisServer();
    if (!bin) throw new Error('redis-server not found');
    const child = spawn(bin, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${this.port}: ${output}`)), 10_000);
      const onData = (d: Buffer) => {
        output += d.toString();
        if (/ready to accept connections/i.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${output}`));
      });
    });
    child.stdout!.removeAllListeners('data');
    child.stderr!.removeAllListeners('data');
    child.stdout!.resume();
    child.stderr!.resume();
    child.removeAllListeners('exit');
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
