/** The load drivers: autocannon for concurrent load, a timed loop for one connection, and medians over rounds. */
import http from 'node:http';
import autocannon from 'autocannon';
import { endpoint, type Proc } from './processes';

export interface Load {
  requestsPerSecond: number;
  rowsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number };
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  rss?: { peakMB: number };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function medianLoad(loads: Load[]): Load {
  const m = (f: (l: Load) => number) => median(loads.map(f));
  const sum = (f: (l: Load) => number) => loads.reduce((a, l) => a + f(l), 0);
  return {
    requestsPerSecond: m((l) => l.requestsPerSecond),
    rowsPerSecond: m((l) => l.rowsPerSecond),
    latencyMs: {
      p50: m((l) => l.latencyMs.p50),
      p90: m((l) => l.latencyMs.p90),
      p99: m((l) => l.latencyMs.p99),
      mean: m((l) => l.latencyMs.mean),
    },
    requests: sum((l) => l.requests),
    non2xx: sum((l) => l.non2xx),
    errors: sum((l) => l.errors),
    timeouts: sum((l) => l.timeouts),
  };
}

/**
 * autocannon against a server's GraphQL path. With `expectBody`, every answer must be that text byte for byte
 * (GraphQL errors come with HTTP 200), and one that is not counts as an error.
 */
export async function cannon(
  p: Proc,
  body: string,
  rows: number,
  connections: number,
  seconds: number,
  expectBody?: string,
): Promise<Load> {
  const result = await autocannon({
    url: `http://127.0.0.1:${p.port}${endpoint(p)}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
    pipelining: 1,
    ...(expectBody === undefined ? {} : { expectBody }),
  });
  return {
    requestsPerSecond: result.requests.average,
    rowsPerSecond: result.requests.average * rows,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, mean: result.latency.average },
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + (expectBody === undefined ? 0 : result.mismatches),
    timeouts: result.timeouts,
  };
}

/** One connection, one request at a time, timed with hrtime (autocannon rounds latency to whole ms). */
export async function sequential(p: Proc, body: string, seconds: number): Promise<Load> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  while (Date.now() < end) {
    const t0 = process.hrtime.bigint();
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: p.port,
            path: endpoint(p),
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      if (status < 200 || status >= 300) non2xx++;
    } catch {
      errors++;
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  const sorted = [...times].sort((a, b) => a - b);
  const q = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))];
  return {
    requestsPerSecond: times.length / wall,
    rowsPerSecond: times.length / wall,
    latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: times.reduce((a, b) => a + b, 0) / times.length },
    requests: times.length,
    non2xx,
    errors,
    timeouts: 0,
  };
}
