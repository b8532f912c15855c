/**
 * The prediction log's cost (issue 21): the API with PREDICTION_LOG=off and with PREDICTION_LOG=file:...,
 * started side by side and measured alternately in the same run (predict at 64 connections, predictBatch
 * with 1,000 rows at 8), reported as on/off ratios. `node dist/bench/scenarios/prediction-log.js [--quick]`, or
 * from bench/run.ts after its scenarios. Before measuring it checks both answer 200 with data, and after,
 * that the log holds one line per row the "on" server answered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { freePort, httpStatus } from '../lib/net';
import { trustedDocumentsEnv, writeBenchManifest } from '../lib/processes';
import { post, predictBatchBody, predictBody } from '../lib/requests';
import { ROOT } from '../lib/settings';

interface Api {
  name: 'off' | 'file';
  child: ChildProcess;
  port: number;
}

async function start(name: Api['name'], env: Record<string, string>, modelDir: string): Promise<Api> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--max-semi-space-size=8', '--max-old-space-size=384', path.join(ROOT, 'dist', 'src', 'main.js')],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        MODEL_DIR: modelDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        RATE_LIMIT_ENABLED: 'false',
        REQUEST_LIMIT_MAX: '100000000',
        MAX_EVENT_LOOP_DELAY_MS: '0',
        // The scenarios send document text: production's default (require) would refuse it.
        ...trustedDocumentsEnv(),
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const deadline = Date.now() + 60_000;
  while ((await httpStatus(port, '/readyz')) !== 200) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`API (${name}) did not become ready`);
    await sleep(100);
  }
  return { name, child, port };
}

async function load(api: Api, body: string, connections: number, seconds: number) {
  const r = await autocannon({
    url: `http://127.0.0.1:${api.port}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${api.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { requests: r.requests.total, rps: r.requests.average, p99: r.latency.p99 };
}

export interface PredictionLogResult {
  scenario: string;
  off: { rowsPerSecond: number; p99Ms: number };
  file: { rowsPerSecond: number; p99Ms: number };
  ratio: number;
}

export async function predictionLogBench(options: { quick: boolean; modelDir: string }): Promise<PredictionLogResult[]> {
  const seconds = options.quick ? 3 : 10;
  const rounds = options.quick ? 1 : 3;
  const dir = mkdtempSync(path.join(tmpdir(), 'pm-bench-predlog-'));
  const file = path.join(dir, 'predictions.jsonl');
  writeBenchManifest();
  const off = await start('off', { PREDICTION_LOG: 'off' }, options.modelDir);
  const on = await start('file', { PREDICTION_LOG: `file:${file}` }, options.modelDir);
  const scenarios = [
    { scenario: 'predict, 64 connections', body: predictBody(), rows: 1, connections: 64 },
    { scenario: 'predictBatch 1,000 rows, 8 connections', body: predictBatchBody(1_000), rows: 1_000, connections: 8 },
  ];
  const results: PredictionLogResult[] = [];
  let rowsLogged = 0;
  try {
    for (const api of [off, on]) {
      for (const s of scenarios) {
        const r = await post(api.port, '/graphql', s.body);
        if (r.status !== 200 || r.body?.errors !== undefined) throw new Error(`${api.name} does not answer ${s.scenario}`);
        if (api === on) rowsLogged += s.rows;
      }
    }
    for (const s of scenarios) {
      const samples = { off: [] as Array<{ rps: number; p99: number }>, file: [] as Array<{ rps: number; p99: number }> };
      for (let round = 0; round < rounds; round++) {
        // Alternate the order each round, so neither server always runs on a warmer (or hotter) machine.
        for (const api of round % 2 ? [on, off] : [off, on]) {
          await load(api, s.body, s.connections, 1); // warm-up
          const r = await load(api, s.body, s.connections, seconds);
          if (api === on) rowsLogged += s.rows * r.requests;
          samples[api.name].push({ rps: r.rps, p99: r.p99 });
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const offRows = median(samples.off.map((x) => x.rps)) * s.rows;
      const onRows = median(samples.file.map((x) => x.rps)) * s.rows;
      results.push({
        scenario: s.scenario,
        off: { rowsPerSecond: Math.round(offRows), p99Ms: median(samples.off.map((x) => x.p99)) },
        file: { rowsPerSecond: Math.round(onRows), p99Ms: median(samples.file.map((x) => x.p99)) },
        ratio: Math.round((onRows / offRows) * 1000) / 1000,
      });
    }
  } finally {
    for (const api of [off, on]) {
      const exited = new Promise((r) => api.child.once('exit', r));
      api.child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
    }
  }
  // Warm-up requests count too: every row the "on" server answered must be in the log (SIGTERM flushed it).
  const lines = readdirSync(dir).reduce((n, f) => n + readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).length, 0);
  if (lines < rowsLogged) throw new Error(`the log holds ${lines} lines, at least ${rowsLogged} rows were served`);
  return results;
}

export function printPredictionLog(results: PredictionLogResult[], mode: 'quick' | 'full'): void {
  console.log(`\nPrediction log cost (${mode}): PREDICTION_LOG=file vs off, same run`);
  for (const r of results) {
    console.log(
      `  ${r.scenario}: off ${r.off.rowsPerSecond} rows/s (p99 ${r.off.p99Ms} ms), file ${r.file.rowsPerSecond} rows/s (p99 ${r.file.p99Ms} ms), ratio ${r.ratio}`,
    );
  }
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  predictionLogBench({ quick, modelDir: path.resolve(process.env.MODEL_DIR ?? 'models') })
    .then((results) => printPredictionLog(results, quick ? 'quick' : 'full'))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
