import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A listener serving only GET /metrics, for METRICS_PORT: scrapes stay off the public port. Plain
 * node:http: nothing else runs here (no API keys, no budgets, no GraphQL).
 */
export async function serveMetrics(
  port: number,
  host: string,
  metricsText: () => Promise<{ contentType: string; body: string }>,
  onError: (err: unknown) => void,
): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: only GET /metrics is served here\n');
      return;
    }
    metricsText().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err) => {
        onError(err);
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
