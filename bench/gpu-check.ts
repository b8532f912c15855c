/**
 * GPU host check (run through deploy/gpu-check.sh, which installs the CUDA provider first): starts the
 * built server with INFERENCE_DEVICE=cpu and then with INFERENCE_DEVICE=cuda on this host, and for each
 *   - checks health.device (and every Prediction.device) is the device asked for,
 *   - checks every golden case (models/golden.json) through the API, one predictBatch and single predicts,
 *     within the golden tolerance,
 *   - measures throughput with autocannon (predict at 32 connections, 100-row predictBatch at 8),
 * then prints CPU and GPU side by side with the GPU/CPU ratio. `--cpu-only` runs the CPU half alone (a
 * machine without CUDA can prove the script's logic that way). Exit code 1 when a check fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { freePort, waitForStatus } from './lib/net';
import { PREDICT_BATCH_QUERY, PREDICT_QUERY, predictBatchBody, predictBody } from './lib/requests';

const ROOT = path.resolve(__dirname, '..', '..');
const MODEL_DIR = path.resolve(process.env.MODEL_DIR ?? path.join(ROOT, 'models'));
const PRODUCT_TYPES = ['L', 'M', 'H'] as const;

interface Golden {
  tolerance: { absolute: number; relative: number };
  inputColumns: string[];
  outputLabels: string[];
  cases: Array<{ name: string; input: number[]; probabilities: number[]; reconstructionError: number }>;
}

type Device = 'cpu' | 'cuda';

interface Throughput {
  workload: string;
  rowsPerRequest: number;
  connections: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

function gql(port: number, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function startServer(device: Device): Promise<{ port: number; child: ChildProcess; output: string[] }> {
  const port = await freePort();
  const output: string[] = [];
  const child = spawn(
    process.execPath,
    ['--max-semi-space-size=8', '--max-old-space-size=384', path.join(ROOT, 'dist', 'src', 'main.js')],
    {
      // Not the checkout: a developer's .env must not change what is measured.
      cwd: os.tmpdir(),
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ...(process.env.LD_LIBRARY_PATH ? { LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH } : {}),
        ...(process.env.CUDA_VISIBLE_DEVICES ? { CUDA_VISIBLE_DEVICES: process.env.CUDA_VISIBLE_DEVICES } : {}),
        NODE_ENV: 'production',
        // The check sends document text (production's default, require, would refuse it).
        TRUSTED_DOCUMENTS: 'allow',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'warn',
        MODEL_DIR,
        INFERENCE_DEVICE: device,
        // A throughput measurement, not a protection test: the benchmark's setting.
        RATE_LIMIT_ENABLED: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  await waitForStatus(`the server with INFERENCE_DEVICE=${device}`, port, '/readyz', {
    child,
    timeoutMs: 90_000,
    everyMs: 200,
    describe: () => output.join(''),
  });
  return { port, child, output };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Golden parity through the API: returns the failures (empty when every value is within tolerance). */
async function parity(port: number, device: Device, golden: Golden): Promise<{ checked: number; failures: string[] }> {
  const { absolute, relative } = golden.tolerance;
  const failures: string[] = [];
  let checked = 0;
  const toReading = (input: number[]) => {
    const r: Record<string, unknown> = {};
    golden.inputColumns.forEach((column, i) => (r[column] = column === 'productType' ? PRODUCT_TYPES[input[i]] : input[i]));
    return r;
  };
  const compare = (name: string, p: any, c: Golden['cases'][number]) => {
    if (p.device !== device) failures.push(`${name}: Prediction.device ${p.device}, expected ${device}`);
    const byLabel = new Map<string, number>(p.probabilities.map((x: any) => [x.failureType, x.probability]));
    golden.outputLabels.forEach((label, k) => {
      const got = byLabel.get(label);
      const want = c.probabilities[k];
      checked++;
      if (got === undefined || Math.abs(got - want) > absolute + relative * Math.abs(want)) {
        failures.push(`${name}: ${label} probability ${got}, golden ${want}`);
      }
    });
    checked++;
    const err = c.reconstructionError;
    if (Math.abs(p.reconstructionError - err) > absolute + relative * Math.abs(err)) {
      failures.push(`${name}: reconstructionError ${p.reconstructionError}, golden ${err}`);
    }
  };

  // All cases in one predictBatch (one ONNX run), then each case alone (micro-batched single predicts).
  const batch = await gql(port, PREDICT_BATCH_QUERY, { inputs: golden.cases.map((c) => toReading(c.input)) });
  if (batch.errors) failures.push(`predictBatch: ${JSON.stringify(batch.errors).slice(0, 500)}`);
  else golden.cases.forEach((c, i) => compare(`${c.name} (batch)`, batch.data.predictBatch[i], c));
  const singles = await Promise.all(golden.cases.map((c) => gql(port, PREDICT_QUERY, { input: toReading(c.input) })));
  singles.forEach((answer, i) => {
    const c = golden.cases[i];
    if (answer.errors) failures.push(`${c.name}: ${JSON.stringify(answer.errors).slice(0, 300)}`);
    else compare(`${c.name} (single)`, answer.data.predict, c);
  });
  return { checked, failures };
}

async function throughput(port: number, seconds: number): Promise<Throughput[]> {
  const workloads = [
    { workload: 'predict', rowsPerRequest: 1, connections: 32, body: predictBody(3) },
    { workload: 'predictBatch', rowsPerRequest: 100, connections: 8, body: predictBatchBody(100, 3) },
  ];
  const results: Throughput[] = [];
  for (const w of workloads) {
    // A request that answers with GraphQL errors still counts as 2xx for autocannon: check one first.
    const sample = await gql(port, w.workload === 'predict' ? PREDICT_QUERY : PREDICT_BATCH_QUERY, JSON.parse(w.body).variables);
    if (sample.errors) throw new Error(`${w.workload} answered with errors: ${JSON.stringify(sample.errors)}`);
    const r = await autocannon({
      url: `http://127.0.0.1:${port}/graphql`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: w.body,
      connections: w.connections,
      duration: seconds,
    });
    results.push({
      workload: w.workload,
      rowsPerRequest: w.rowsPerRequest,
      connections: w.connections,
      requestsPerSecond: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      non2xx: r.non2xx,
      errors: r.errors,
    });
  }
  return results;
}

async function main(): Promise<void> {
  const started = Date.now();
  const cpuOnly = process.argv.includes('--cpu-only');
  const seconds = Number(argValue('--seconds') ?? 10);
  const golden: Golden = JSON.parse(readFileSync(path.join(MODEL_DIR, 'golden.json'), 'utf8'));
  const devices: Device[] = cpuOnly ? ['cpu'] : ['cpu', 'cuda'];
  const measured = new Map<Device, Throughput[]>();
  let failed = false;

  for (const device of devices) {
    process.stdout.write(`== INFERENCE_DEVICE=${device}\n`);
    const server = await startServer(device);
    try {
      const info = await gql(server.port, '{ health { status device modelVersion } modelInfo { device availableProviders } }');
      const health = info.data?.health;
      const deviceOk = health?.device === device && info.data?.modelInfo.device === device;
      process.stdout.write(
        `   health.device ${health?.device} (model ${health?.modelVersion}, providers ${info.data?.modelInfo.availableProviders?.join(', ')}): ${deviceOk ? 'ok' : `FAIL, expected ${device}`}\n`,
      );
      failed ||= !deviceOk;

      const p = await parity(server.port, device, golden);
      process.stdout.write(
        `   golden parity: ${golden.cases.length} cases x (batch + single), ${p.checked} values within |got - golden| <= ${golden.tolerance.absolute} + ${golden.tolerance.relative}*|golden|: ${p.failures.length === 0 ? 'ok' : `FAIL (${p.failures.length})`}\n`,
      );
      for (const f of p.failures.slice(0, 10)) process.stdout.write(`     ${f}\n`);
      failed ||= p.failures.length > 0;

      const t = await throughput(server.port, seconds);
      measured.set(device, t);
      for (const r of t) {
        process.stdout.write(
          `   ${r.workload} (${r.rowsPerRequest} row${r.rowsPerRequest > 1 ? 's' : ''}, ${r.connections} connections, ${seconds} s): ${r.requestsPerSecond.toFixed(0)} req/s, ${(r.requestsPerSecond * r.rowsPerRequest).toFixed(0)} rows/s, p50 ${r.p50} ms, p99 ${r.p99} ms${r.non2xx || r.errors ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : ''}\n`,
        );
        failed ||= r.non2xx > 0 || r.errors > 0;
      }
    } finally {
      await stopServer(server.child);
    }
  }

  const cpu = measured.get('cpu') ?? [];
  const cuda = measured.get('cuda');
  process.stdout.write(`\n== throughput on this host (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'})\n`);
  process.stdout.write(
    `   ${'workload'.padEnd(24)} ${'cpu rows/s'.padStart(12)} ${'cuda rows/s'.padStart(12)} ${'cuda/cpu'.padStart(9)}\n`,
  );
  cpu.forEach((c, i) => {
    const g = cuda?.[i];
    const cpuRows = c.requestsPerSecond * c.rowsPerRequest;
    const gpuRows = g ? g.requestsPerSecond * g.rowsPerRequest : undefined;
    process.stdout.write(
      `   ${`${c.workload} x${c.connections}`.padEnd(24)} ${cpuRows.toFixed(0).padStart(12)} ${(gpuRows === undefined ? '-' : gpuRows.toFixed(0)).padStart(12)} ${(gpuRows === undefined ? '-' : `${(gpuRows / cpuRows).toFixed(2)}x`).padStart(9)}\n`,
    );
  });
  if (cpuOnly) process.stdout.write('   (--cpu-only: the CUDA half was not run)\n');
  const elapsed = (Date.now() - started) / 1000;
  process.stdout.write(`\n${failed ? 'FAILED' : 'ok'}: checks and measurements took ${elapsed.toFixed(0)} s\n`);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
