/**
 * A local fleet: several API processes (production mode) sharing one redis-server's rate-limit budget,
 * behind nginx, all from Debian packages (apt-get install -y nginx redis-server). nginx runs in the
 * foreground on deploy/nginx.conf, the same file deploy/compose.yaml mounts, with only its upstream
 * servers, listen address and file paths rewritten for a temporary folder: the fleet exercises the proxy
 * settings that ship.
 *
 *   npm run fleet [-- --replicas 3 --port 8080]      (Ctrl-C stops everything)
 *
 * test/fleet.test.ts starts one in CI and proves one shared budget through the proxy and that stopping a
 * replica under load loses no request. Only environment variables and HTTP are used, so the fleet does not
 * depend on how the server is built inside.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForStatus } from './lib/net';
import { Nginx } from './lib/nginx';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'main.js');
export const NGINX_CONF = path.join(ROOT, 'deploy', 'nginx.conf');

export interface FleetOptions {
  replicas?: number;
  /** nginx's port on 127.0.0.1; 0 or unset = a free one. */
  port?: number;
  /** Extra environment for every API process (on top of the fleet's). */
  env?: Record<string, string>;
  /** Echo every process's output to this process's stderr (the CLI does; tests read it from Replica.output). */
  echo?: boolean;
}

export interface Replica {
  index: number;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote (JSON log lines in production mode). */
  output: string[];
}

export interface Fleet {
  /** nginx's address, e.g. http://127.0.0.1:8080 */
  origin: string;
  port: number;
  redisUrl: string;
  replicas: Replica[];
  dir: string;
  nginxConfig: string;
  /** Sends `signal` to replica `index` and resolves with its exit code once it has exited. */
  stopReplica(index: number, signal?: NodeJS.Signals): Promise<number | null>;
  stop(): Promise<void>;
}

/** A Debian binary, found on PATH or in the sbin folders a non-root PATH may lack. */
export function findBinary(name: string): string | undefined {
  for (const candidate of [name, `/usr/sbin/${name}`, `/usr/bin/${name}`, `/usr/local/sbin/${name}`, `/usr/local/bin/${name}`]) {
    const probe = spawnSync(candidate, name === 'nginx' ? ['-v'] : ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/**
 * deploy/nginx.conf for the fleet: the upstream block lists the replicas, nginx listens on 127.0.0.1:port
 * and keeps its pid and temp files in `dir`. Every proxy_* setting is left as shipped.
 */
export function fleetNginxConfig(template: string, replicaPorts: number[], port: number, dir: string): string {
  const upstream = /( *)# fleet: upstream servers\n[\s\S]*?# fleet: end upstream servers\n/;
  const listen = /# fleet: listen\n(\s*)listen [^;]+;/;
  if (!upstream.test(template) || !listen.test(template)) {
    throw new Error(`${NGINX_CONF} lost its "# fleet:" markers; the fleet cannot rewrite it`);
  }
  const servers = (indent: string) => replicaPorts.map((p) => `${indent}server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;\n`).join('');
  return template
    .replace(upstream, (_m, indent: string) => servers(indent))
    .replace(listen, (_m, indent: string) => `# fleet: listen\n${indent}listen 127.0.0.1:${port};`)
    .replace(/^pid [^;]+;/m, `pid ${path.join(dir, 'nginx.pid')};`)
    .replace(/proxy_temp_path [^;]+;/, `proxy_temp_path ${path.join(dir, 'nginx-proxy')};`)
    .replace(/client_body_temp_path [^;]+;/, `client_body_temp_path ${path.join(dir, 'nginx-body')};`);
}

function echoed(text: string, label: string, echo: boolean): void {
  if (echo) process.stderr.write(text.replace(/^(?=.)/gm, `[${label}] `));
}

function capture(child: ChildProcess, into: string[], label: string, echo: boolean): void {
  const onData = (d: Buffer) => {
    const text = d.toString();
    into.push(text);
    echoed(text, label, echo);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function startFleet(options: FleetOptions = {}): Promise<Fleet> {
  const count = options.replicas ?? 3;
  const echo = options.echo ?? false;
  const redisBin = findBinary('redis-server');
  const nginxBin = findBinary('nginx');
  if (!redisBin || !nginxBin) throw new Error('the fleet needs redis-server and nginx (apt-get install -y redis-server nginx)');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-fleet-'));
  // nginx started as root runs its workers as nobody: they must reach their temp folders.
  chmodSync(dir, 0o755);
  for (const sub of ['nginx-proxy', 'nginx-body']) {
    mkdirSync(path.join(dir, sub));
    chmodSync(path.join(dir, sub), 0o777);
  }
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    await Promise.all(
      children.map((c) => {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
        return exited(c);
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const redisPort = await freePort();
    const redisOut: string[] = [];
    const redis = spawn(redisBin, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(redis);
    capture(redis, redisOut, 'redis', echo);
    const redisReady = Date.now() + 15_000;
    while (!/ready to accept connections/i.test(redisOut.join(''))) {
      if (redis.exitCode !== null || Date.now() > redisReady) throw new Error(`redis-server did not start:\n${redisOut.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const redisUrl = `redis://127.0.0.1:${redisPort}`;

    const replicas: Replica[] = [];
    for (let index = 0; index < count; index++) {
      const port = await freePort();
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
        MODEL_DIR: path.resolve(process.env.MODEL_DIR ?? path.join(ROOT, 'models')),
        INFERENCE_DEVICE: 'cpu',
        RATE_LIMIT_REDIS_URL: redisUrl,
        // One proxy hop (nginx) in front: the client is the address nginx appends to X-Forwarded-For.
        TRUST_PROXY: '1',
        // The fleet's load sends document text (production's default, require, would refuse it).
        TRUSTED_DOCUMENTS: 'allow',
        ...options.env,
      };
      // The temp folder as working directory: a developer's .env in the checkout must not leak into the fleet.
      const child = spawn(process.execPath, ['--max-semi-space-size=8', '--max-old-space-size=384', MAIN], {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const replica: Replica = { index, port, child, output: [] };
      capture(child, replica.output, `api-${index + 1}`, echo);
      replicas.push(replica);
    }
    await Promise.all(
      replicas.map((r) =>
        waitForStatus(`api-${r.index + 1} (port ${r.port})`, r.port, '/readyz', { child: r.child, describe: () => r.output.join('') }),
      ),
    );

    const port = options.port || (await freePort());
    const nginxConfig = fleetNginxConfig(
      readFileSync(NGINX_CONF, 'utf8'),
      replicas.map((r) => r.port),
      port,
      dir,
    );
    const nginx = await Nginx.start({ bin: nginxBin, dir, config: nginxConfig, port, onOutput: (text) => echoed(text, 'nginx', echo) });
    children.push(nginx.child);

    return {
      origin: `http://127.0.0.1:${port}`,
      port,
      redisUrl,
      replicas,
      dir,
      nginxConfig: nginx.config,
      async stopReplica(index, signal = 'SIGTERM') {
        const { child } = replicas[index];
        child.kill(signal);
        return exited(child);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

if (require.main === module) {
  void (async () => {
    const fleet = await startFleet({
      replicas: Number(argValue('--replicas') ?? 3),
      port: Number(argValue('--port') ?? 8080),
      echo: process.argv.includes('--verbose'),
    });
    process.stdout.write(
      [
        `fleet up: ${fleet.origin}/graphql (nginx, deploy/nginx.conf)`,
        ...fleet.replicas.map((r) => `  api-${r.index + 1}: http://127.0.0.1:${r.port} (pid ${r.child.pid})`),
        `  redis: ${fleet.redisUrl}`,
        `  files: ${fleet.dir}`,
        'Ctrl-C stops everything. Stop one replica with: kill -TERM <pid>',
        '',
      ].join('\n'),
    );
    const shutdown = () => void fleet.stop().then(() => process.exit(0));
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  })().catch((err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
