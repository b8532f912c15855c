/**
 * One attacking client of the under-attack scenario (bench/scenarios/edge.ts), on a worker thread of its own:
 * sending a megabyte per request costs the sender milliseconds, and on the thread that times the victim
 * that cost would count against the server.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { post } from '../lib/requests';

export interface AttackerData {
  port: number;
  document: string;
  apiKey: string;
}

export interface AttackerReport {
  times: number[];
  byStatus: Record<string, number>;
}

async function attack(port: number, document: string, apiKey: string, stopped: () => boolean): Promise<AttackerReport> {
  const times: number[] = [];
  const byStatus: Record<string, number> = {};
  while (!stopped()) {
    const t = process.hrtime.bigint();
    const r = await post(port, '/graphql', document, { 'x-api-key': apiKey });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    const body = r.body as { errors?: Array<{ extensions?: { code?: string } }> } | undefined;
    const key = `${r.status} ${body?.errors?.[0]?.extensions?.code ?? ''}`.trim();
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }
  return { times, byStatus };
}

if (parentPort) {
  const port = parentPort;
  const data = workerData as AttackerData;
  let stop = false;
  port.once('message', () => (stop = true));
  attack(data.port, data.document, data.apiKey, () => stop).then(
    (report) => port.postMessage(report),
    (err: unknown) => port.postMessage({ error: String(err) }),
  );
}
