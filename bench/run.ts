/**
 * The benchmark harness (`npm run bench`, `npm run bench -- --quick`, `npm run bench -- --soak`).
 *
 * Starts the API in production mode as a child process (`node dist/src/main.js`) with validation,
 * rate limiting (at a limit it never reaches) and request logging on, and the bare reference server
 * (bench/reference/server.ts) next to it, then drives both over loopback with autocannon. Before every
 * scenario it checks that both answer HTTP 200 with `data` and no `errors`, and that they answer the
 * same JSON; during a scenario non-2xx responses count as failures. Every figure is reported next to
 * the reference's, measured in the same run, and as a ratio to it.
 *
 * Flags: --quick (a few seconds a scenario, for CI; asserts nothing about speed), --soak (predict at
 * 64 connections for SOAK_SECONDS, default 300, sampling RSS), --profile (API under --cpu-prof,
 * profiles in bench/results/profiles), --only ID[,ID] (just those scenarios, no report; `--only workers-c64`
 * still rewrites its own BENCHMARKS.md section outside --quick), --model-dir DIR (default $MODEL_DIR or models).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync, existsSync, closeSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import {
  BATCHING_QUERY,
  benchManifest,
  get,
  post,
  predictBatchBody,
  predictBody,
  predictTrustedBody,
  PREDICTION_FIELDS,
  readings,
  rssOf,
  sleep,
} from './common';
import { compression, underAttack, type AttackResult, type CompressionResult } from './edge';

const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
// node:util's parseArgs: an unknown or misspelt flag is an error, never a silent full run.
const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'model-dir': { type: 'string' },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    only: { type: 'string' },
  },
  strict: true,
  allowPositionals: false,
});
const flag = (name: '--quick' | '--soak' | '--profile') => argv[name.slice(2) as 'quick' | 'soak' | 'profile'] === true;
const option = (name: '--model-dir' | '--duration' | '--rounds' | '--only') =>
  argv[name.slice(2) as 'model-dir' | 'duration' | 'rounds' | 'only'];
const QUICK = flag('--quick');
const SOAK = flag('--soak');
const PROFILE = flag('--profile');
const MODEL_DIR = path.resolve(option('--model-dir') ?? process.env.MODEL_DIR ?? 'models');
const DURATION = Number(option('--duration') ?? (QUICK ? 3 : 5));
const WARMUP = QUICK ? 1 : 3;
/** Measured rounds per server and scenario (full run: 3, reported as medians). */
const ROUNDS = Number(option('--rounds') ?? (QUICK ? 1 : 3));
/** How long the after-load RSS may take to settle (V8's memory reducer shrinks the heap some seconds after load stops). */
const SETTLE_SECONDS = QUICK ? 10 : 45;

const STARTED = Date.now();
/** One line per measured round, so a five-minute run is never silent. */
function progress(scenario: string, round: number): void {
  console.log(`  ${scenario}: round ${round + 1}/${ROUNDS} (${Math.round((Date.now() - STARTED) / 1000)} s elapsed)`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function medianLoad(loads: Load[]): Load {
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

/** The API's environment: production, validation always on, rate limiting on at limits it never reaches, access log on. */
const API_ENV = {
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  MODEL_DIR,
  LOG_LEVEL: 'info',
  INFERENCE_DEVICE: 'cpu',
  RATE_LIMIT_ENABLED: 'true',
  RATE_LIMIT_MAX: '100000000',
  RATE_LIMIT_ROWS_MAX: '1000000000',
  RATE_LIMIT_WINDOW: '1h',
  // Every request to /graphql spends one; the load generator is one client.
  REQUEST_LIMIT_MAX: '100000000',
  // Free text and trusted ids side by side (production's default is require): the scenarios send the
  // same documents both ways; the bench's manifest is written at start (bench/results/trusted-documents.json).
  TRUSTED_DOCUMENTS: 'allow',
  TRUSTED_DOCUMENTS_FILE: `${path.join(ROOT, 'client', 'persisted-documents.json')},${path.join(RESULTS, 'trusted-documents.json')}`,
  REQUEST_LIMIT_WINDOW: '1h',
  // The harness drives the server to saturation on purpose; on a busy machine load shedding would turn that
  // into 503s and measure the shedding instead (it is tested in test/edge.test.ts; its per-request check stays).
  MAX_EVENT_LOOP_DELAY_MS: '0',
};

interface Proc {
  name: string;
  child: ChildProcess;
  port: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * V8 young-generation cap for the server: the default 16 MB semi-spaces let 1,000-row batches push RSS
 * past 250 MB (265 MB measured); 8 MB gave 243 MB at the same throughput (bench --only batch-1000).
 */
const SERVER_NODE_FLAGS = ['--max-semi-space-size=8', '--max-old-space-size=384'];

async function startApi(name: string, extraEnv: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  mkdirSync(RESULTS, { recursive: true });
  const logFile = path.join(RESULTS, `${name}.log`);
  const out = openSync(logFile, 'w');
  // The flags production runs with (package.json "start", deploy/): the benchmark measures that process.
  const nodeArgs = [...SERVER_NODE_FLAGS, ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(RESULTS, 'profiles')}`] : [])];
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist', 'src', 'main.js')], {
    cwd: ROOT,
    env: { ...process.env, ...API_ENV, ...extraEnv, PORT: String(port) },
    stdio: ['ignore', out, 'pipe'],
  });
  closeSync(out);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const deadline = Date.now() + 60_000;
  while ((await get(port, '/readyz')) !== 200) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) throw new Error(`${name} not ready after 60 s: ${stderr}`);
    await sleep(100);
  }
  return { name, child, port };
}

async function startReference(): Promise<Proc> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'bench', 'reference', 'server.js')], {
    cwd: ROOT,
    env: { ...process.env, MODEL_DIR, PORT: '0' },
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

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
}

/** A scenario may only measure successful answers: HTTP 200, `data`, no `errors`. */
async function check(p: Proc, body: string): Promise<any> {
  const r = await post(p.port, p.name === 'reference' ? '/' : '/graphql', body);
  if (r.status !== 200 || !r.body || r.body.errors !== undefined || r.body.data == null) {
    throw new Error(`${p.name} does not answer this scenario's request with 200 + data: HTTP ${r.status} ${r.text.slice(0, 500)}`);
  }
  return r.body;
}

interface Load {
  requestsPerSecond: number;
  rowsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number };
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  rss?: { peakMB: number };
}

async function cannon(p: Proc, body: string, rows: number, connections: number, seconds: number): Promise<Load> {
  const result = await autocannon({
    url: `http://127.0.0.1:${p.port}${p.name === 'reference' ? '/' : '/graphql'}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
    pipelining: 1,
  });
  return {
    requestsPerSecond: result.requests.average,
    rowsPerSecond: result.requests.average * rows,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, mean: result.latency.average },
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** One connection, one request at a time, timed with hrtime (autocannon rounds latency to whole ms). */
async function sequential(p: Proc, body: string, seconds: number): Promise<Load> {
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
            path: p.name === 'reference' ? '/' : '/graphql',
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

async function batching(p: Proc): Promise<{ runs: number; rows: number }> {
  const r = await post(p.port, '/graphql', JSON.stringify({ query: BATCHING_QUERY }));
  const b = r.body?.data?.modelInfo?.batching;
  if (!b) throw new Error(`${p.name}: cannot read batching stats: ${r.text.slice(0, 300)}`);
  return { runs: b.runs, rows: b.rows };
}

/** Samples a process's RSS while `fn` runs. */
async function withRss<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; peak: number; samples: number[] }> {
  const samples: number[] = [];
  const timer = setInterval(() => {
    try {
      samples.push(rssOf(pid));
    } catch {
      /* exited */
    }
  }, 200);
  try {
    const value = await fn();
    return { value, peak: Math.max(...samples, 0), samples };
  } finally {
    clearInterval(timer);
  }
}

interface ScenarioResult {
  id: string;
  title: string;
  unit: 'req/s' | 'rows/s';
  rows: number;
  connections: number;
  reference: Load;
  api: Load;
  ratio: number;
  meanRowsPerRun?: number;
  apiPeakRssMB?: number;
  rounds?: number;
  batchingOff?: { api: Load; ratio: number; meanRowsPerRun: number };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const MB = 1024 * 1024;

/**
 * Scenario `batch-1000-explanation`: the cost of asking why. The same 1,000-row predictBatch with and
 * without `explanation` on the same API process, rounds alternating; rows/s counts readings answered.
 * An explained reading adds five model rows that share the batcher's runs, so the ideal ratio is about
 * 1/6 if ONNX dominated, higher for the GraphQL and JSON work both pay.
 */
interface ExplanationResult {
  plain: Load;
  explained: Load;
  /** Median over rounds of explained rows/s / plain rows/s. */
  ratio: number;
  /** Model rows scored per reading of one request, from the batching statistics (6 when explained). */
  modelRowsPerReading: { plain: number; explained: number };
  meanRowsPerRun: { plain: number; explained: number };
  connections: number;
  rounds: number;
}

async function explanationScenario(api: Proc): Promise<ExplanationResult> {
  const rows = 1000;
  // An explained 1,000-row call holds up to 6,000 rows in the queue: 3 connections stay under the default
  // MAX_QUEUE_ROWS (20,000), where 8 would get some calls refused SERVER_BUSY (an HTTP 200 with errors).
  const connections = 3;
  const inputs = readings(rows);
  const body = (fields: string) =>
    JSON.stringify({
      operationName: 'PredictBatch',
      query: `mutation PredictBatch($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { ${fields} } }`,
      variables: { inputs },
    });
  const plainBody = body(PREDICTION_FIELDS);
  const explainedBody = body(
    `${PREDICTION_FIELDS} explanation { temperatureDifference power strain drivers { field value reference effect } }`,
  );
  const answer = await check(api, explainedBody);
  const explained = answer.data.predictBatch as Array<{ explanation: { drivers: unknown[] } }>;
  if (explained.length !== rows || explained.some((p) => p.explanation.drivers.length !== 5)) {
    throw new Error('batch-1000-explanation: the explained batch does not hold 1,000 explanations of 5 drivers');
  }
  // autocannon stops at its deadline with requests still in the server: wait until the model is idle
  // so that neither phase pays for (or counts) the other's leftovers.
  const quiesce = async () => {
    let last = -1;
    for (;;) {
      const { rows: scored } = await batching(api);
      if (scored === last) return;
      last = scored;
      await sleep(500);
    }
  };
  const modelRowsPerReading = async (b: string) => {
    await quiesce();
    const before = await batching(api);
    await check(api, b);
    return ((await batching(api)).rows - before.rows) / rows;
  };
  const perReading = { plain: await modelRowsPerReading(plainBody), explained: await modelRowsPerReading(explainedBody) };
  // GraphQL errors (SERVER_BUSY, INFERENCE_FAILED) come with HTTP 200: every answer must be the checked
  // one, byte for byte (the model is deterministic), or it counts as an error.
  const expected = new Map<string, string>();
  for (const b of [plainBody, explainedBody]) {
    const [first, second] = [await post(api.port, '/graphql', b), await post(api.port, '/graphql', b)];
    if (first.text !== second.text) throw new Error('batch-1000-explanation: the same request got two different answers');
    expected.set(b, first.text);
  }
  const load = async (b: string, seconds: number): Promise<Load> => {
    const result = await autocannon({
      url: `http://127.0.0.1:${api.port}/graphql`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: b,
      connections,
      duration: seconds,
      expectBody: expected.get(b),
    });
    return {
      requestsPerSecond: result.requests.average,
      rowsPerSecond: result.requests.average * rows,
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, mean: result.latency.average },
      requests: result.requests.total,
      non2xx: result.non2xx,
      errors: result.errors + result.mismatches,
      timeouts: result.timeouts,
    };
  };
  for (const b of [plainBody, explainedBody]) await load(b, WARMUP);
  const measure = async (b: string) => {
    await quiesce();
    const before = await batching(api);
    const load_ = await load(b, DURATION);
    await quiesce();
    const after = await batching(api);
    if (load_.non2xx > 0 || load_.errors > 0)
      console.warn(`  batch-1000-explanation: ${load_.non2xx} non-2xx, ${load_.errors} errors or unexpected answers`);
    return { load: load_, modelRows: after.rows - before.rows, runs: after.runs - before.runs };
  };
  const plainRounds: Array<Awaited<ReturnType<typeof measure>>> = [];
  const explainedRounds: typeof plainRounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    progress('batch-1000-explanation', r);
    plainRounds.push(await measure(plainBody));
    explainedRounds.push(await measure(explainedBody));
  }
  const perRun = (rs: typeof plainRounds) =>
    rs.reduce((a, x) => a + x.modelRows, 0) /
    Math.max(
      1,
      rs.reduce((a, x) => a + x.runs, 0),
    );
  const result: ExplanationResult = {
    plain: medianLoad(plainRounds.map((x) => x.load)),
    explained: medianLoad(explainedRounds.map((x) => x.load)),
    ratio: median(explainedRounds.map((x, i) => x.load.rowsPerSecond / plainRounds[i].load.rowsPerSecond)),
    modelRowsPerReading: perReading,
    meanRowsPerRun: { plain: round(perRun(plainRounds)), explained: round(perRun(explainedRounds)) },
    connections,
    rounds: ROUNDS,
  };
  const fmt = (l: Load) => `${round(l.rowsPerSecond, 0)} rows/s p50 ${l.latencyMs.p50} ms p99 ${l.latencyMs.p99} ms`;
  console.log(
    `batch-1000-explanation: without ${fmt(result.plain)} | with explanation ${fmt(result.explained)} | ratio ${round(result.ratio)}x` +
      ` | model rows per reading ${result.modelRowsPerReading.plain} vs ${result.modelRowsPerReading.explained}` +
      ` | rows/run ${result.meanRowsPerRun.plain} vs ${result.meanRowsPerRun.explained}`,
  );
  return result;
}

function versions(): Record<string, string> {
  const v = (pkg: string) => {
    try {
      return JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version as string;
    } catch {
      return 'n/a';
    }
  };
  return {
    node: process.version,
    'onnxruntime-node': v('onnxruntime-node'),
    '@apollo/server': v('@apollo/server'),
    graphql: v('graphql'),
    'graphql-jit': v('graphql-jit'),
    'type-graphql': v('type-graphql'),
    autocannon: v('autocannon'),
  };
}

function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGB: round(os.totalmem() / 1024 ** 3, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

async function soak(): Promise<void> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 300);
  const api = await startApi('soak-api');
  try {
    const body = predictBody();
    await check(api, body);
    await cannon(api, body, 1, 64, 3);
    await sleep(2000);
    const idle = rssOf(api.child.pid!);
    const samples: Array<{ t: number; rssMB: number }> = [];
    const t0 = Date.now();
    const timer = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, rssMB: round(rssOf(api.child.pid!) / MB, 1) }), 5000);
    const load = await cannon(api, body, 1, 64, seconds);
    clearInterval(timer);
    await sleep(10_000);
    const after = rssOf(api.child.pid!);
    // Trend over the steady part (after the first minute or first third): least-squares slope in MB/min.
    const steady = samples.filter((s) => s.t >= Math.min(60, seconds / 3));
    const n = steady.length;
    const mx = steady.reduce((a, s) => a + s.t, 0) / n;
    const my = steady.reduce((a, s) => a + s.rssMB, 0) / n;
    const slope =
      steady.reduce((a, s) => a + (s.t - mx) * (s.rssMB - my), 0) /
      Math.max(
        1e-9,
        steady.reduce((a, s) => a + (s.t - mx) ** 2, 0),
      );
    const result = {
      date: new Date().toISOString(),
      seconds,
      model: modelName(),
      idleMB: round(idle / MB, 1),
      peakMB: Math.max(...samples.map((s) => s.rssMB)),
      afterMB: round(after / MB, 1),
      slopeMBPerMin: round(slope * 60, 2),
      requestsPerSecond: round(load.requestsPerSecond, 0),
      p99Ms: load.latencyMs.p99,
      non2xx: load.non2xx,
      errors: load.errors,
      samples,
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(path.join(RESULTS, 'soak.json'), JSON.stringify(result, null, 2));
    console.log(JSON.stringify({ ...result, samples: undefined }, null, 2));
    const text = [
      `Soak (${result.date}, model ${result.model}): \`predict\` at 64 connections for ${seconds} s, RSS sampled every 5 s.`,
      '',
      `| idle RSS | peak RSS | RSS 10 s after | trend after warm-up | req/s | p99 | non-2xx / errors |`,
      `|---|---|---|---|---|---|---|`,
      `| ${result.idleMB} MB | ${result.peakMB} MB | ${result.afterMB} MB | ${result.slopeMBPerMin} MB/min | ${result.requestsPerSecond} | ${result.p99Ms} ms | ${result.non2xx} / ${result.errors} |`,
      '',
      `RSS samples (MB): ${samples.map((s) => s.rssMB).join(', ')}`,
    ].join('\n');
    spliceMarkdown('soak', text);
  } finally {
    await stop(api);
  }
}

function modelName(): string {
  try {
    const m = JSON.parse(readFileSync(path.join(MODEL_DIR, 'model.json'), 'utf8'));
    return `${m.name} ${m.version}`;
  } catch {
    return 'unknown';
  }
}

/** Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in BENCHMARKS.md (appends the section if absent). */
function spliceMarkdown(name: string, text: string): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  let md = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const block = `${begin}\n${text}\n${end}`;
  const i = md.indexOf(begin);
  const j = md.indexOf(end);
  md = i >= 0 && j > i ? md.slice(0, i) + block + md.slice(j + end.length) : `${md.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, md);
}

/** The under-attack scenario against TRUSTED_DOCUMENTS=require: free text is refused before it is parsed. */
async function attackRequire(): Promise<AttackResult> {
  const p = await startApi('api-require', { TRUSTED_DOCUMENTS: 'require' });
  try {
    return await underAttack(p.port, 1_048_576, QUICK ? 2 : DURATION, predictTrustedBody());
  } finally {
    await stop(p);
  }
}

async function main(): Promise<void> {
  if (!existsSync(path.join(MODEL_DIR, 'model.json'))) throw new Error(`no model in ${MODEL_DIR} (set MODEL_DIR or --model-dir)`);
  if (SOAK) return soak();
  const wallStart = Date.now();
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'trusted-documents.json'), JSON.stringify(benchManifest(), null, 2));
  const reference = await startReference();
  const api = await startApi('api');
  const apiOff = await startApi('api-batching-off', { MAX_BATCH_SIZE: '1' });
  const procs = [reference, api, apiOff];
  const results: ScenarioResult[] = [];
  let explanation: ExplanationResult | undefined;
  let edge: EdgeResult | undefined;
  // Read after the try only when it completed; the initial values keep the compiler's definite-assignment check.
  /* eslint-disable no-useless-assignment */
  let idleRss = 0;
  let startRss = 0;
  let settleSeconds = 0;
  let peakRss = 0;
  let afterRss = 0;
  /* eslint-enable no-useless-assignment */
  try {
    // Same JSON from both: the reference does exactly the work the API's answer needs.
    const one = predictBody();
    const [a, r] = [await check(api, one), await check(reference, one)];
    if (JSON.stringify(a) !== JSON.stringify(r)) {
      throw new Error(`API and reference answer differently:\n${JSON.stringify(a)}\n${JSON.stringify(r)}`);
    }
    startRss = rssOf(api.child.pid!);
    // Idle = warmed up (code paths compiled, queries cached) but without load.
    const thousand = predictBatchBody(1000);
    for (let i = 0; i < 200; i++) await check(api, one);
    for (let i = 0; i < 10; i++) await check(api, thousand);
    await sleep(3000);
    idleRss = rssOf(api.child.pid!);

    const scenarios = [
      { id: 'predict-c1', title: '`predict`, 1 connection (latency)', body: one, rows: 1, connections: 1, unit: 'req/s' as const },
      { id: 'predict-c64', title: '`predict`, 64 connections', body: one, rows: 1, connections: 64, unit: 'req/s' as const },
      // The same request naming its document by id: the API skips lexing, parsing, validation and cost.
      {
        id: 'predict-trusted-c1',
        title: '`predict` by trusted document id, 1 connection (latency)',
        body: one,
        apiBody: predictTrustedBody(),
        rows: 1,
        connections: 1,
        unit: 'req/s' as const,
      },
      {
        id: 'predict-trusted-c64',
        title: '`predict` by trusted document id, 64 connections',
        body: one,
        apiBody: predictTrustedBody(),
        rows: 1,
        connections: 64,
        unit: 'req/s' as const,
      },
      {
        id: 'batch-100',
        title: '`predictBatch`, 100 rows, 8 connections',
        body: predictBatchBody(100),
        rows: 100,
        connections: 8,
        unit: 'rows/s' as const,
      },
      {
        id: 'batch-1000',
        title: '`predictBatch`, 1,000 rows, 8 connections',
        body: predictBatchBody(1000),
        rows: 1000,
        connections: 8,
        unit: 'rows/s' as const,
      },
      {
        id: 'predict-c256',
        title: '`predict`, 256 connections, batching on vs off',
        body: one,
        rows: 1,
        connections: 256,
        unit: 'req/s' as const,
      },
    ];
    const only = option('--only');
    for (const s of scenarios.filter((x) => !only || only.split(',').includes(x.id))) {
      // The reference knows no ids: it is always sent the document text.
      const bodyFor = (p: Proc) => (p === reference ? s.body : (s.apiBody ?? s.body));
      const run = (p: Proc, seconds: number) =>
        s.connections === 1 ? sequential(p, bodyFor(p), seconds) : cannon(p, bodyFor(p), s.rows, s.connections, seconds);
      const measureOnce = async (p: Proc): Promise<{ load: Load; rows: number; runs: number; peak: number }> => {
        const before = p === reference ? undefined : await batching(p);
        const { value: load, peak } = await withRss(p.child.pid!, () => run(p, DURATION));
        const after = p === reference ? undefined : await batching(p);
        if (load.non2xx > 0 || load.errors > 0) console.warn(`  ${p.name} ${s.id}: ${load.non2xx} non-2xx, ${load.errors} errors`);
        return { load, rows: before && after ? after.rows - before.rows : 0, runs: before && after ? after.runs - before.runs : 0, peak };
      };
      const targets = [reference, api, ...(s.id === 'predict-c256' || s.id === 'predict-c1' ? [apiOff] : [])];
      for (const p of targets) {
        await check(p, bodyFor(p));
        await run(p, WARMUP);
      }
      // Rounds alternate between the servers so that drift in the machine's load hits all of them alike.
      const rounds = targets.map(() => [] as Array<{ load: Load; rows: number; runs: number; peak: number }>);
      for (let r = 0; r < ROUNDS; r++) {
        progress(s.id, r);
        for (let t = 0; t < targets.length; t++) rounds[t].push(await measureOnce(targets[t]));
      }
      const summary = rounds.map((rs) => ({
        load: medianLoad(rs.map((x) => x.load)),
        meanRowsPerRun:
          rs.reduce((a, x) => a + x.rows, 0) /
          Math.max(
            1,
            rs.reduce((a, x) => a + x.runs, 0),
          ),
        peak: Math.max(...rs.map((x) => x.peak)),
      }));
      const roundRatio = (t: number) => median(rounds[t].map((x, i) => x.load.requestsPerSecond / rounds[0][i].load.requestsPerSecond));
      const [ref, ours] = summary;
      if (ours.peak > peakRss) peakRss = ours.peak;
      const ratio = roundRatio(1);
      const result: ScenarioResult = {
        id: s.id,
        title: s.title,
        unit: s.unit,
        rows: s.rows,
        connections: s.connections,
        reference: ref.load,
        api: ours.load,
        ratio,
        meanRowsPerRun: ours.meanRowsPerRun,
        apiPeakRssMB: round(ours.peak / MB, 1),
        rounds: ROUNDS,
      };
      if (targets.length === 3) {
        result.batchingOff = { api: summary[2].load, ratio: roundRatio(2), meanRowsPerRun: summary[2].meanRowsPerRun };
      }
      results.push(result);
      const fmt = (l: Load) =>
        `${round(s.unit === 'rows/s' ? l.rowsPerSecond : l.requestsPerSecond, 0)} ${s.unit} p50 ${round(l.latencyMs.p50, 3)} ms p99 ${round(l.latencyMs.p99, 3)} ms`;
      console.log(
        `${s.id}: reference ${fmt(ref.load)} | api ${fmt(ours.load)} | ratio ${round(ratio)}x | api peak RSS ${round(ours.peak / MB, 1)} MB` +
          (ours.meanRowsPerRun !== undefined ? ` | rows/run ${round(ours.meanRowsPerRun)}` : '') +
          (result.batchingOff ? ` | batching off ${fmt(result.batchingOff.api)} ratio ${round(result.batchingOff.ratio)}x` : ''),
      );
    }
    if (!only || only.split(',').includes('batch-1000-explanation')) explanation = await explanationScenario(api);
    if (!only || only.split(',').includes('edge')) {
      // The worst case: budgets no client reaches (API_ENV), so only the bounded cost of a refused document
      // protects the third client (with the default request budget the attackers would be cut off after 600).
      edge = {
        attack: await underAttack(api.port, 1_048_576, QUICK ? 2 : DURATION),
        attackRequire: await attackRequire(),
        compression: await compression(api.port, QUICK ? 2 : DURATION),
      };
    }
    const settleStart = Date.now();
    do {
      await sleep(1000);
      afterRss = rssOf(api.child.pid!);
    } while (afterRss > idleRss * 1.2 && Date.now() - settleStart < SETTLE_SECONDS * 1000);
    settleSeconds = (Date.now() - settleStart) / 1000;
  } finally {
    for (const p of procs) await stop(p);
  }
  const only = option('--only');
  if (!only || only.split(',').includes('workers-c64')) await workersComparison();
  const wallSeconds = (Date.now() - wallStart) / 1000;
  if (only) return;
  report(results, { startRss, idleRss, peakRss, afterRss, settleSeconds, wallSeconds }, explanation, edge);
}

interface EdgeResult {
  attack: AttackResult;
  /** The same attack on a server with TRUSTED_DOCUMENTS=require, the third client sending a document id. */
  attackRequire: AttackResult;
  compression: CompressionResult;
}

/**
 * WORKERS=2 against WORKERS=1 (node:cluster, src/cluster.ts), `predict` at 64 connections, rounds
 * alternating between the two. Runs after the other scenarios, with their servers stopped. On a host
 * whose cores the load generator shares (this one), a second worker competes with autocannon for the
 * same CPUs, so the ratio says what this machine allows, not what a many-core host would give.
 */
async function workersComparison(): Promise<void> {
  const body = predictBody();
  const one = await startApi('api-workers-1', { WORKERS: '1' });
  const two = await startApi('api-workers-2', { WORKERS: '2' });
  const loads: Load[][] = [[], []];
  try {
    for (const p of [one, two]) {
      await check(p, body);
      await cannon(p, body, 1, 64, WARMUP);
    }
    for (let r = 0; r < ROUNDS; r++) {
      progress('workers-c64', r);
      loads[0].push(await cannon(one, body, 1, 64, DURATION));
      loads[1].push(await cannon(two, body, 1, 64, DURATION));
    }
  } finally {
    await stop(one);
    await stop(two);
  }
  const [w1, w2] = loads.map(medianLoad);
  const ratio = median(loads[1].map((l, i) => l.requestsPerSecond / loads[0][i].requestsPerSecond));
  const failures = [...loads[0], ...loads[1]].reduce((a, l) => a + l.non2xx + l.errors, 0);
  const fmt = (l: Load) => `${round(l.requestsPerSecond, 0)} req/s p50 ${round(l.latencyMs.p50, 3)} ms p99 ${round(l.latencyMs.p99, 3)} ms`;
  console.log(
    `workers-c64: WORKERS=1 ${fmt(w1)} | WORKERS=2 ${fmt(w2)} | ratio ${round(ratio)}x | failures ${failures} | ${os.availableParallelism()} cores shared with the load generator`,
  );
  const out = {
    date: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    cores: os.availableParallelism(),
    rounds: ROUNDS,
    durationSeconds: DURATION,
    workers1: w1,
    workers2: w2,
    ratio,
    failures,
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'workers.json'), JSON.stringify(out, null, 2));
  if (QUICK) return;
  const row = (label: string, l: Load) =>
    `| ${label} | ${Math.round(l.requestsPerSecond).toLocaleString('en-US')} req/s | ${round(l.latencyMs.p50, 3)} ms / ${round(l.latencyMs.p99, 3)} ms | ${l.non2xx + l.errors} |`;
  spliceMarkdown(
    'workers',
    [
      `\`predict\` at 64 connections, WORKERS=1 against WORKERS=2 (${out.date}; ${ROUNDS} rounds of ${DURATION} s alternating, medians; ${out.cores} cores shared with autocannon).`,
      '',
      '| server | throughput | p50 / p99 | failures |',
      '|---|---|---|---|',
      row('WORKERS=1', w1),
      row('WORKERS=2', w2),
      '',
      `WORKERS=2 / WORKERS=1: **${round(ratio)}x**.`,
    ].join('\n'),
  );
}

function report(
  results: ScenarioResult[],
  mem: { startRss: number; idleRss: number; peakRss: number; afterRss: number; settleSeconds: number; wallSeconds: number },
  explanation?: ExplanationResult,
  edge?: EdgeResult,
): void {
  const by = (id: string) => results.find((r) => r.id === id)!;
  const c1 = by('predict-c1');
  const c64 = by('predict-c64');
  const b1000 = by('batch-1000');
  const c256 = by('predict-c256');
  const floors = [
    { floor: '`predict` 64 conn: >= 0.5x reference req/s', value: `${round(c64.ratio)}x`, met: c64.ratio >= 0.5 },
    {
      floor: '`predict` 64 conn: p99 < 25 ms',
      // An absolute floor: the bare reference's own p99 in the same rounds says whether this machine allows it.
      value: `${c64.api.latencyMs.p99} ms (bare reference: ${c64.reference.latencyMs.p99} ms)`,
      met: c64.api.latencyMs.p99 < 25,
    },
    { floor: '`predictBatch` 1,000 rows: >= 0.4x reference rows/s', value: `${round(b1000.ratio)}x`, met: b1000.ratio >= 0.4 },
    { floor: '`predict` 1 conn: median latency < 1 ms', value: `${round(c1.api.latencyMs.p50, 3)} ms`, met: c1.api.latencyMs.p50 < 1 },
    {
      floor: '256 conn: batching on beats batching off',
      value: `${round(c256.api.requestsPerSecond, 0)} vs ${round(c256.batchingOff!.api.requestsPerSecond, 0)} req/s`,
      met: c256.api.requestsPerSecond > c256.batchingOff!.api.requestsPerSecond,
    },
    { floor: '256 conn: mean rows per ONNX run > 4', value: `${round(c256.meanRowsPerRun ?? 0)}`, met: (c256.meanRowsPerRun ?? 0) > 4 },
    {
      floor: '1 conn: batching adds no measurable latency',
      value: `p50 ${round(c1.api.latencyMs.p50, 3)} ms on vs ${round(c1.batchingOff!.api.latencyMs.p50, 3)} ms off`,
      met: c1.api.latencyMs.p50 <= c1.batchingOff!.api.latencyMs.p50 * 1.1 + 0.02,
    },
    { floor: 'RSS under load < 250 MB', value: `${round(mem.peakRss / MB, 1)} MB`, met: mem.peakRss < 250 * MB },
    {
      floor: 'RSS after load within 20 % of idle',
      value: `${round(mem.afterRss / MB, 1)} MB vs idle ${round(mem.idleRss / MB, 1)} MB`,
      met: mem.afterRss <= mem.idleRss * 1.2,
    },
  ];
  const failures =
    results.reduce(
      (a, r) =>
        a +
        r.api.non2xx +
        r.api.errors +
        r.reference.non2xx +
        r.reference.errors +
        (r.batchingOff ? r.batchingOff.api.non2xx + r.batchingOff.api.errors : 0),
      0,
    ) +
    (explanation ? explanation.plain.non2xx + explanation.plain.errors + explanation.explained.non2xx + explanation.explained.errors : 0);
  const out = {
    date: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    durationSeconds: DURATION,
    model: modelName(),
    machine: machine(),
    versions: versions(),
    apiEnv: API_ENV,
    memory: {
      startMB: round(mem.startRss / MB, 1),
      idleMB: round(mem.idleRss / MB, 1),
      peakUnderLoadMB: round(mem.peakRss / MB, 1),
      afterLoadMB: round(mem.afterRss / MB, 1),
      afterLoadSeconds: round(mem.settleSeconds, 0),
    },
    rounds: ROUNDS,
    failures,
    floors,
    scenarios: results,
    explanation,
    edge,
    wallSeconds: round(mem.wallSeconds, 1),
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'latest.json'), JSON.stringify(out, null, 2));
  console.log(`\nwall ${round(mem.wallSeconds, 1)} s; failures (non-2xx + socket errors): ${failures}`);
  for (const f of floors) console.log(`${f.met ? 'MET    ' : 'NOT MET'} ${f.floor}: ${f.value}`);
  if (QUICK) return;

  writeFileSync(path.join(ROOT, 'bench', 'benchmarks.json'), JSON.stringify(out, null, 2) + '\n');
  const num = (x: number, unit: string) => (unit === 'ms' ? `${round(x, 3)} ms` : `${Math.round(x).toLocaleString('en-US')}`);
  const row = (label: string, r: ScenarioResult, api: Load, ratio: number, rowsPerRun?: number) => {
    const v = (l: Load) => (r.unit === 'rows/s' ? l.rowsPerSecond : l.requestsPerSecond);
    return `| ${label} | ${num(v(r.reference), '')} ${r.unit} | ${num(v(api), '')} ${r.unit} | **${round(ratio)}x** | ${num(r.reference.latencyMs.p50, 'ms')} / ${num(r.reference.latencyMs.p99, 'ms')} | ${num(api.latencyMs.p50, 'ms')} / ${num(api.latencyMs.p99, 'ms')} | ${rowsPerRun === undefined ? '' : round(rowsPerRun)} | ${api.non2xx + api.errors} |`;
  };
  const lines = [
    `Full run of ${out.date} (\`npm run bench\`; per server and scenario ${WARMUP} s warm-up, then ${ROUNDS} rounds of ${DURATION} s alternating between the servers; figures are medians of the rounds, ratios the median of the per-round ratios; wall ${out.wallSeconds} s). Model: ${out.model}.`,
    '',
    `Machine: ${out.machine.cpu}, ${out.machine.cores} cores, ${out.machine.memoryGB} GB, ${out.machine.os}; load generator (autocannon) on the same cores.`,
    `Versions: ${Object.entries(out.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    `API: \`node ${SERVER_NODE_FLAGS.join(' ')} dist/src/main.js\` with ${Object.entries(API_ENV)
      .filter(([k]) => k !== 'MODEL_DIR')
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}, access log to a file; class-validator rules enforced on every row.`,
    '',
    '| scenario | reference | API | API / reference | reference p50 / p99 | API p50 / p99 | rows per ONNX run | API failures |',
    '|---|---|---|---|---|---|---|---|',
    ...results.flatMap((r) => [
      row(r.title + (r.batchingOff ? ' (batching on)' : ''), r, r.api, r.ratio, r.meanRowsPerRun),
      ...(r.batchingOff
        ? [row(r.title + ' (batching off, MAX_BATCH_SIZE=1)', r, r.batchingOff.api, r.batchingOff.ratio, r.batchingOff.meanRowsPerRun)]
        : []),
    ]),
    '',
    `Memory (API RSS): ${out.memory.startMB} MB just after start, idle (warmed up: 200 \`predict\` + 10 1,000-row \`predictBatch\`, then 3 s quiet) ${out.memory.idleMB} MB, peak under load ${out.memory.peakUnderLoadMB} MB (per scenario: ${results.map((r) => `${r.id} ${r.apiPeakRssMB} MB`).join(', ')}), ${out.memory.afterLoadSeconds} s after the last scenario ${out.memory.afterLoadMB} MB (polled each second for up to ${SETTLE_SECONDS} s until within 20 % of idle).`,
    '',
    '| floor | measured | met |',
    '|---|---|---|',
    ...floors.map((f) => `| ${f.floor} | ${f.value} | ${f.met ? 'yes' : '**no**'} |`),
    '',
    ...(explanation
      ? [
          `\`predictBatch\`, 1,000 rows, ${explanation.connections} connections, with and without \`explanation\` (same API process, rounds alternating): ` +
            `${num(explanation.plain.rowsPerSecond, '')} rows/s without, ${num(explanation.explained.rowsPerSecond, '')} rows/s with, **${round(explanation.ratio)}x**; ` +
            `p50 ${num(explanation.plain.latencyMs.p50, 'ms')} vs ${num(explanation.explained.latencyMs.p50, 'ms')}; model rows per reading ${explanation.modelRowsPerReading.plain} vs ${explanation.modelRowsPerReading.explained}, ` +
            `rows per ONNX run ${explanation.meanRowsPerRun.plain} vs ${explanation.meanRowsPerRun.explained}.`,
          '',
        ]
      : []),
    ...(edge
      ? [
          `Under attack (budgets out of reach, so only the bounded cost of refusing a document protects the third client): two clients send ${edge.attack.attackers.documentBytes.toLocaleString('en-US')}-byte documents ` +
            `(\`health { status }\` repeated to the body limit) back to back while a third calls \`predict\` on one connection: its p50 / p99 ` +
            `${edge.attack.victimUnloaded.p50} / ${edge.attack.victimUnloaded.p99} ms unloaded, ${edge.attack.victimAttacked.p50} / ${edge.attack.victimAttacked.p99} ms attacked ` +
            `(p99 **${edge.attack.ratioP99}x**; floor < 5x or < 25 ms: ${edge.attack.met ? 'met' : '**not met**'}). The attackers' ${edge.attack.attackers.requests} documents were refused in ` +
            `p50 ${edge.attack.attackers.p50} ms, p99 ${edge.attack.attackers.p99} ms (${Object.entries(edge.attack.attackers.byStatus)
              .map(([k, v]) => `${v} x ${k}`)
              .join(', ')}).`,
          '',
          `The same attack with \`TRUSTED_DOCUMENTS=require\` (the third client sends its document id; docs/trusted-documents.md): p50 / p99 ` +
            `${edge.attackRequire.victimUnloaded.p50} / ${edge.attackRequire.victimUnloaded.p99} ms unloaded, ${edge.attackRequire.victimAttacked.p50} / ${edge.attackRequire.victimAttacked.p99} ms attacked ` +
            `(p99 **${edge.attackRequire.ratioP99}x**); the attackers' ${edge.attackRequire.attackers.requests} documents were refused in p50 ${edge.attackRequire.attackers.p50} ms, ` +
            `p99 ${edge.attackRequire.attackers.p99} ms (${Object.entries(edge.attackRequire.attackers.byStatus)
              .map(([k, v]) => `${v} x ${k}`)
              .join(', ')}).`,
          '',
          `Compression, 1,000-row \`predictBatch\` answer: ${edge.compression.bytes.identity.toLocaleString('en-US')} B plain, ${edge.compression.bytes.gzip.toLocaleString('en-US')} B gzip, ` +
            `${edge.compression.bytes.br.toLocaleString('en-US')} B br; rows/s at 8 connections ${edge.compression.rowsPerSecond.identity.toLocaleString('en-US')} plain, ` +
            `${edge.compression.rowsPerSecond.gzip.toLocaleString('en-US')} gzip, ${edge.compression.rowsPerSecond.br.toLocaleString('en-US')} br (the client on the same cores pays for decompression too).`,
          '',
        ]
      : []),
    'Raw numbers: [bench/benchmarks.json](bench/benchmarks.json).',
  ];
  spliceMarkdown('bench', lines.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
