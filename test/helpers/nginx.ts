import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../bench/lib/net';
import { Nginx } from '../../bench/lib/nginx';

const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

/** For `describe(..., { skip })`: CI must run the proxy tests (nginx is installed by .ci/run); locally they may skip. */
export function nginxSkipReason(): string | false {
  if (spawnSync(NGINX, ['-v']).status === 0) return false;
  if (process.env.CI === 'true')
    throw new Error(`${NGINX} is missing, but CI=true: the proxy tests must run in CI (apt-get install nginx)`);
  return `${NGINX} not found (apt-get install nginx to run the proxy tests)`;
}

/**
 * Debian's nginx (the shared launcher, bench/lib/nginx.ts) in a throw-away prefix, proxying to `upstreams` and appending the
 * peer's address to X-Forwarded-For ($proxy_add_x_forwarded_for), as an ingress does.
 */
export class NginxProxy {
  private constructor(
    private readonly nginx: Nginx,
    private readonly dir: string,
  ) {}

  get port(): number {
    return this.nginx.port;
  }

  get origin(): string {
    return this.nginx.origin;
  }

  static async start(upstreams: number[], extra = ''): Promise<NginxProxy> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-nginx-'));
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, sub), { mode: 0o777 });
    const port = await freePort();
    const servers = upstreams.map((p) => `server 127.0.0.1:${p} max_fails=0;`).join(' ');
    const config = `worker_processes 1;
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
`;
    try {
      return new NginxProxy(await Nginx.start({ bin: NGINX, dir, config, port, timeoutMs: 10_000 }), dir);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.nginx.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
