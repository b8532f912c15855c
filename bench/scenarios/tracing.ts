/**
 * What tracing costs (issue 23), in one run, rounds alternating between three servers:
 *  - `baseline`: a build of the commit before tracing was added (git archive + tsc in a temp folder),
 *  - `off`: this build with OTEL_TRACES_EXPORTER unset (the default): must be within 2 % of `baseline`,
 *  - `on`: this build exporting every span (sampler always_on, ratio 1.0) over OTLP/protobuf to a sink in
 *    this process that answers 200 and discards.
 * Scenarios: `predict` at 64 connections and 1,000-row `predictBatch` at 8 connections.
 *
 * `npm run bench -- --only tracing` (bench/run.ts), or `node dist/bench/scenarios/tracing.js [--duration S] [--rounds N]`.
 * TRACING_BASELINE_REF names another baseline commit. Writes bench/results/tracing.json.
 */
import { execFileSync, execSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { freePort, httpStatus } from '../lib/net';
import { trustedDocumentsEnv, writeBenchManifest } from '../lib/processes';
import { post, predictBatchBody, predictBody } from '../lib/requests';
import { ROOT } from '../lib/settings';

export interface TracingBenchOptions {
  /** The API's environment (bench/run.ts API_ENV). */
  env: Record<string, string>;
  nodeFlags: string[];
  rounds: number;
  duration: number;
  warmup: number;
}

interface Server {
  name: 'baseline' | 'off' | 'on';
  child: ChildProcess;
  port: number;
}

interface ScenarioNumbers {
  id: string;
  connections: number;
  rows: number;
  /** Requests per second, median of the rounds, per server. */
  rps: Record<Server['name'], number>;
  p99Ms: Record<Server['name'], number>;
  /** Median over rounds of the per-round ratios. */
  offVsBaseline: number;
  onVsOff: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The main line just before src/observability/tracing.ts appeared (or TRACING_BASELINE_REF), built in a temp
 * folder. main has merge commits, so the search follows first parents only: the commit that added the file
 * there is the merge of the tracing branch, and its first parent is main without tracing (`<merge>^1`;
 * without --first-parent, `-1` would find the branch's own commit, whose parent is half of the feature).
 * The baseline predates trusted documents: the TRUSTED_DOCUMENTS* variables the bench sets are ignored by it.
 */
export function baselineRef(): string {
  if (process.env.TRACING_BASELINE_REF) return process.env.TRACING_BASELINE_REF;
  const added = execFileSync('git', ['log', '--first-parent', '--diff-filter=A', '--format=%H', '--', 'src/observability/tracing.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .filter(Boolean);
  // Oldest last: the first time the file appeared on the main line.
  const first = added.at(-1);
  if (!first) throw new Error('no commit on the first-parent history adds src/observability/tracing.ts (set TRACING_BASELINE_REF)');
  return `${first}^1`;
}

function buildBaseline(): { dir: string; main: string; ref: string } {
  const ref = baselineRef();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-bench-baseline-'));
  execSync(`git archive ${ref} | tar -x -C ${JSON.stringify(dir)}`, { cwd: ROOT, stdio: 'inherit' });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  console.log(`  tracing: building the baseline ${ref} in ${dir}`);
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir, stdio: 'inherit' });
  return { dir, main: path.join(dir, 'dist', 'src', 'main.js'), ref };
}

/** An OTLP/HTTP endpoint that takes every export and discards it (the collector's cost is not ours). */
async function sink(): Promise<{ url: string; exports: () => number; bytes: () => number; close: () => void }> {
  let exports = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports: () => exports,
    bytes: () => bytes,
    close: () => server.close(),
  };
}

async function start(name: Server['name'], main: string, options: TracingBenchOptions, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [...options.nodeFlags, main], {
    cwd: ROOT,
    env: { ...process.env, ...options.env, LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const deadline = Date.now() + 60_000;
  while ((await httpStatus(port, '/readyz')) !== 200) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) throw new Error(`${name} not ready after 60 s: ${stderr}`);
    await sleep(100);
  }
  return { name, child, port };
}

async function load(s: Server, body: string, connections: number, seconds: number) {
  const r = await autocannon({
    url: `http://127.0.0.1:${s.port}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
    pipelining: 1,
  });
  if (r.non2xx > 0 || r.errors > 0) console.warn(`  ${s.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p99: r.latency.p99 };
}

export async function tracingComparison(options: TracingBenchOptions): Promise<ScenarioNumbers[]> {
  writeBenchManifest();
  const baseline = buildBaseline();
  const collector = await sink();
  const current = path.join(ROOT, 'dist', 'src', 'main.js');
  const servers: Server[] = [];
  const results: ScenarioNumbers[] = [];
  try {
    servers.push(await start('baseline', baseline.main, options, {}));
    servers.push(await start('off', current, options, {}));
    servers.push(
      await start('on', current, options, {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_TRACES_SAMPLER: 'always_on',
      }),
    );
    const scenarios = [
      { id: 'predict-c64', body: predictBody(), rows: 1, connections: 64 },
      { id: 'batch-1000', body: predictBatchBody(1000), rows: 1000, connections: 8 },
    ];
    for (const sc of scenarios) {
      for (const s of servers) {
        const check = await post(s.port, '/graphql', sc.body);
        if (check.status !== 200 || check.body?.errors) throw new Error(`${s.name} fails ${sc.id}: ${check.text.slice(0, 300)}`);
        await load(s, sc.body, sc.connections, options.warmup);
      }
      const rounds: Array<Record<Server['name'], { rps: number; p99: number }>> = [];
      for (let r = 0; r < options.rounds; r++) {
        console.log(`  tracing ${sc.id}: round ${r + 1}/${options.rounds}`);
        const round = {} as Record<Server['name'], { rps: number; p99: number }>;
        // Rotating the order each round spreads drift in the machine's load over all three.
        for (let i = 0; i < servers.length; i++) {
          const s = servers[(i + r) % servers.length];
          round[s.name] = await load(s, sc.body, sc.connections, options.duration);
        }
        rounds.push(round);
      }
      const med = (name: Server['name'], k: 'rps' | 'p99') => median(rounds.map((x) => x[name][k]));
      const result: ScenarioNumbers = {
        id: sc.id,
        connections: sc.connections,
        rows: sc.rows,
        rps: { baseline: med('baseline', 'rps'), off: med('off', 'rps'), on: med('on', 'rps') },
        p99Ms: { baseline: med('baseline', 'p99'), off: med('off', 'p99'), on: med('on', 'p99') },
        offVsBaseline: median(rounds.map((x) => x.off.rps / x.baseline.rps)),
        onVsOff: median(rounds.map((x) => x.on.rps / x.off.rps)),
      };
      results.push(result);
      console.log(
        `tracing ${sc.id}: baseline ${Math.round(result.rps.baseline)} req/s | off ${Math.round(result.rps.off)} req/s (x${result.offVsBaseline.toFixed(3)}) | on ${Math.round(result.rps.on)} req/s (x${result.onVsOff.toFixed(3)} of off) | p99 ms ${result.p99Ms.baseline}/${result.p99Ms.off}/${result.p99Ms.on}`,
      );
    }
  } finally {
    for (const s of servers) {
      const exited = new Promise((r) => s.child.once('exit', r));
      s.child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
    }
    collector.close();
    rmSync(baseline.dir, { recursive: true, force: true });
  }
  const out = path.join(ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'tracing.json'),
    `${JSON.stringify({ date: new Date().toISOString(), baseline: baseline.ref, cpus: os.cpus().length, exports: collector.exports(), exportedBytes: collector.bytes(), ...options, env: undefined, results }, null, 2)}\n`,
  );
  return results;
}

if (require.main === module) {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' } }, strict: true });
  void tracingComparison({
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      MODEL_DIR: path.resolve(process.env.MODEL_DIR ?? 'models'),
      INFERENCE_DEVICE: 'cpu',
      RATE_LIMIT_ENABLED: 'false',
      MAX_EVENT_LOOP_DELAY_MS: '0',
      // This build runs production's default TRUSTED_DOCUMENTS=require, which refuses the document text sent here.
      ...trustedDocumentsEnv(),
    },
    nodeFlags: ['--max-semi-space-size=8', '--max-old-space-size=384'],
    rounds: Number(values.rounds ?? 3),
    duration: Number(values.duration ?? 5),
    warmup: 2,
  }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
