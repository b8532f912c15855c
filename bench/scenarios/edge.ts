/**
 * Edge scenarios of the benchmark (bench/run.ts calls them on an API started with production defaults):
 *
 * - under attack: two clients with distinct identities send the largest documents the body limit allows
 *   back to back (each on a worker thread) while a third calls `predict` on one connection; the third's p99 is compared with its
 *   own p99 unloaded, measured just before on the same process, and the attackers' refusal times reported;
 * - compression: a 1,000-row `predictBatch` answer with and without Accept-Encoding (bytes and rows/s).
 */
import http from 'node:http';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import { post, predictBatchBody, predictBody } from '../lib/requests';
import type { AttackerData, AttackerReport } from './edge-attacker';

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** The largest hostile document under a body limit: one root field repeated (quadratic for graphql-js's rules). */
export function attackDocument(bodyLimit: number): string {
  const field = 'health { status } ';
  const query = `{ ${field.repeat(Math.floor((bodyLimit - 40) / field.length))}}`;
  return JSON.stringify({ query });
}

/** An attacker on a worker thread (bench/scenarios/edge-attacker.ts); `stop` ends its loop and returns what it saw. */
function startAttacker(data: AttackerData): { stop: () => Promise<AttackerReport> } {
  const worker = new Worker(path.join(__dirname, 'edge-attacker.js'), { workerData: data });
  const report = new Promise<AttackerReport>((resolve, reject) => {
    worker.once('message', (m: AttackerReport | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
    worker.once('error', reject);
  });
  return {
    stop: async () => {
      worker.postMessage('stop');
      try {
        return await report;
      } finally {
        await worker.terminate();
      }
    },
  };
}

export interface AttackResult {
  victimUnloaded: { p50: number; p99: number; requests: number };
  victimAttacked: { p50: number; p99: number; requests: number };
  ratioP99: number;
  met: boolean;
  attackers: { requests: number; p50: number; p99: number; byStatus: Record<string, number>; documentBytes: number };
}

async function victim(port: number, seconds: number, body: string): Promise<number[]> {
  const out: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const t = process.hrtime.bigint();
    const r = await post(port, '/graphql', body);
    if (r.status !== 200) throw new Error(`victim predict answered ${r.status}: ${r.text.slice(0, 200)}`);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

/**
 * `victimBody`: the third client's `predict` request (by trusted document id against TRUSTED_DOCUMENTS=require);
 * `label` names the server's mode in the printed line.
 */
export async function underAttack(
  port: number,
  bodyLimit: number,
  seconds: number,
  victimBody = predictBody(),
  label = 'under-attack',
): Promise<AttackResult> {
  await victim(port, 1, victimBody); // warm-up
  const unloaded = await victim(port, seconds, victimBody);
  const doc = attackDocument(bodyLimit);
  const attackers = ['attacker-1', 'attacker-2'].map((apiKey) => startAttacker({ port, document: doc, apiKey }));
  const attacked = await victim(port, seconds, victimBody);
  const reports = await Promise.all(attackers.map((a) => a.stop()));
  const times = reports.flatMap((r) => r.times);
  const byStatus: Record<string, number> = {};
  for (const r of reports) for (const [k, n] of Object.entries(r.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + n;
  const u = { p50: r3(percentile(unloaded, 50)), p99: r3(percentile(unloaded, 99)), requests: unloaded.length };
  const a = { p50: r3(percentile(attacked, 50)), p99: r3(percentile(attacked, 99)), requests: attacked.length };
  const result: AttackResult = {
    victimUnloaded: u,
    victimAttacked: a,
    ratioP99: r3(a.p99 / u.p99),
    met: a.p99 < 5 * u.p99 || a.p99 < 25,
    attackers: {
      requests: times.length,
      p50: r3(percentile(times, 50)),
      p99: r3(percentile(times, 99)),
      byStatus,
      documentBytes: doc.length,
    },
  };
  console.log(
    `${label}: victim predict p50/p99 unloaded ${u.p50}/${u.p99} ms, attacked ${a.p50}/${a.p99} ms (p99 ${result.ratioP99}x; floor: < 5x or < 25 ms: ${result.met ? 'met' : 'NOT MET'}) | ` +
      `attackers: ${times.length} documents of ${doc.length} B refused in p50 ${result.attackers.p50} ms, p99 ${result.attackers.p99} ms (${JSON.stringify(byStatus)})`,
  );
  return result;
}

export interface CompressionResult {
  bytes: { identity: number; gzip: number; br: number };
  rowsPerSecond: { identity: number; gzip: number; br: number };
}

function wireBytes(port: number, body: string, acceptEncoding?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(acceptEncoding ? { 'accept-encoding': acceptEncoding } : {}) },
      },
      (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve(n));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function compression(port: number, seconds: number): Promise<CompressionResult> {
  const body = predictBatchBody(1000);
  const bytes = { identity: await wireBytes(port, body), gzip: await wireBytes(port, body, 'gzip'), br: await wireBytes(port, body, 'br') };
  const rate = async (encoding?: string) => {
    const r = await autocannon({
      url: `http://127.0.0.1:${port}/graphql`,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(encoding ? { 'accept-encoding': encoding } : {}) },
      body,
      connections: 8,
      duration: seconds,
    });
    return Math.round(r.requests.average * 1000);
  };
  const rowsPerSecond = { identity: await rate(), gzip: await rate('gzip'), br: await rate('br') };
  console.log(
    `compression: 1,000-row answer ${bytes.identity} B plain, ${bytes.gzip} B gzip, ${bytes.br} B br | rows/s at 8 connections: ` +
      `plain ${rowsPerSecond.identity}, gzip ${rowsPerSecond.gzip} (${r3(rowsPerSecond.gzip / rowsPerSecond.identity)}x), br ${rowsPerSecond.br} (${r3(rowsPerSecond.br / rowsPerSecond.identity)}x)`,
  );
  return { bytes, rowsPerSecond };
}
