/** The servers the bench measures: the API as production runs it, and the bare reference server. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, waitForStatus } from './net';
import { BATCHING_QUERY, benchManifest, post } from './requests';
import { PROFILES, RESULTS, ROOT, type BenchSettings } from './settings';

export interface Proc {
  name: string;
  child: ChildProcess;
  port: number;
}

/** Where the bench writes its own trusted-documents manifest (its `predict` and `predictBatch` documents by id). */
export const BENCH_MANIFEST = path.join(RESULTS, 'trusted-documents.json');

/** Writes BENCH_MANIFEST (bench/lib/requests.ts `benchManifest()`); every server the bench starts names it. */
export function writeBenchManifest(): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(BENCH_MANIFEST, JSON.stringify(benchManifest(), null, 2));
}

/**
 * Free text and trusted ids side by side: production's default is TRUSTED_DOCUMENTS=require, which refuses
 * the document text the scenarios send; the committed client manifest and the bench's own are both trusted.
 */
export function trustedDocumentsEnv(): Record<string, string> {
  return {
    TRUSTED_DOCUMENTS: 'allow',
    TRUSTED_DOCUMENTS_FILE: `${path.join(ROOT, 'client', 'persisted-documents.json')},${BENCH_MANIFEST}`,
  };
}

/** The API's environment: production, validation always on, rate limiting on at limits it never reaches, access log on. */
export function apiEnv(modelDir: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    MODEL_DIR: modelDir,
    LOG_LEVEL: 'info',
    INFERENCE_DEVICE: 'cpu',
    RATE_LIMIT_ENABLED: 'true',
    RATE_LIMIT_MAX: '100000000',
    RATE_LIMIT_ROWS_MAX: '1000000000',
    RATE_LIMIT_WINDOW: '1h',
    // Every request to /graphql spends one; the load generator is one client.
    REQUEST_LIMIT_MAX: '100000000',
    REQUEST_LIMIT_WINDOW: '1h',
    // Document text and document ids both accepted (the bench's manifest is written before a server starts).
    ...trustedDocumentsEnv(),
    // The harness drives the server to saturation on purpose; on a busy machine load shedding would turn that
    // into 503s and measure the shedding instead (it is tested in test/edge.test.ts; its per-request check stays).
    MAX_EVENT_LOOP_DELAY_MS: '0',
  };
}

/**
 * V8 young-generation cap for the server: the default 16 MB semi-spaces let 1,000-row batches push RSS
 * past 250 MB (265 MB measured); 8 MB gave 243 MB at the same throughput (bench --only batch-1000).
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=8', '--max-old-space-size=384'];

/** `node dist/src/main.js` with API_ENV plus `extraEnv`, its log in bench/results/<name>.log; resolves once /readyz answers 200. */
export async function startApi(settings: BenchSettings, name: string, extraEnv: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  writeBenchManifest();
  const logFile = path.join(RESULTS, `${name}.log`);
  const out = openSync(logFile, 'w');
  // The flags production runs with (package.json "start", deploy/): the benchmark measures that process.
  const nodeArgs = [...SERVER_NODE_FLAGS, ...(settings.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`] : [])];
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist', 'src', 'main.js')], {
    cwd: ROOT,
    env: { ...process.env, ...apiEnv(settings.modelDir), ...extraEnv, PORT: String(port) },
    stdio: ['ignore', out, 'pipe'],
  });
  closeSync(out);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  await waitForStatus(name, port, '/readyz', { child, describe: () => stderr });
  return { name, child, port };
}

/** bench/reference/server.ts: it reports the port it bound with a `LISTENING <port>` line. */
export async function startReference(settings: BenchSettings): Promise<Proc> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'bench', 'reference', 'server.js')], {
    cwd: ROOT,
    env: { ...process.env, MODEL_DIR: settings.modelDir, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c) => {
      buf += c;
      const m = /LISTENING (\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`reference exited (${code})`)));
  });
  return { name: 'reference', child, port };
}

export async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
}

/** The path a server answers GraphQL on. */
export const endpoint = (p: Proc) => (p.name === 'reference' ? '/' : '/graphql');

/** A scenario may only measure successful answers: HTTP 200, `data`, no `errors`. */
export async function check(p: Proc, body: string): Promise<any> {
  const r = await post(p.port, endpoint(p), body);
  if (r.status !== 200 || !r.body || r.body.errors !== undefined || r.body.data == null) {
    throw new Error(`${p.name} does not answer this scenario's request with 200 + data: HTTP ${r.status} ${r.text.slice(0, 500)}`);
  }
  return r.body;
}

/** The API's batching statistics (ONNX runs and rows scored so far). */
export async function batching(p: Proc): Promise<{ runs: number; rows: number }> {
  const r = await post(p.port, '/graphql', JSON.stringify({ query: BATCHING_QUERY }));
  const b = r.body?.data?.modelInfo?.batching;
  if (!b) throw new Error(`${p.name}: cannot read batching stats: ${r.text.slice(0, 300)}`);
  return { runs: b.runs, rows: b.rows };
}
