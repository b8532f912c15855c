import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './redis';
import { until } from './wait';

const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

/** For `describe(..., { skip })`: CI must run the proxy tests (nginx is installed by .ci/run); locally they may skip. */
export function nginxSkipReason(): string | false {
  if (spawnSync(NGINX, ['-v']).status === 0) return false;
  if (process.env.CI === 'true')
    throw new Error(`${NGINX} is missing, but CI=true: the proxy tests must run in CI (apt-get install nginx)`);
  return `${NGINX} not found (apt-get install nginx to run the proxy tests)`;
}

/**
 * Debian's nginx in the foreground, in a throw-away prefix, proxying to `upstreams` and appending the
 * peer's address to X-Forwarded-For ($proxy_add_x_forwarded_for), as an ingress does.
 */
export class NginxProxy {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly port: number,
  ) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(upstreams: number[], extra = ''): Promise<NginxProxy> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-nginx-'));
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, sub), { mode: 0o777 });
    const port = await freePort();
    const servers = upstreams.map((p) => `server 127.0.0.1:${p} max_fails=0;`).join(' ');
    writeFileSync(
      path.join(dir, 'nginx.conf'),
      `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream api { ${servers} keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      ${extra}
    }
  }
}
`,
    );
    const child = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const proxy = new NginxProxy(child, dir, port);
    await until(
      `nginx listening (${stderr})`,
      async () => {
        if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
        try {
          await fetch(`${proxy.origin}/healthz`);
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, everyMs: 50 },
    );
    return proxy;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGQUIT');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
