/**
 * Does running onnxruntime-node in a worker thread pay? (`npm run bench:worker`, MODEL_DIR as usual.)
 *
 * onnxruntime-node 1.30's `session.run` does its work synchronously on the calling thread, so on the
 * main thread a run blocks the event loop for its whole duration. A worker thread frees the loop but
 * adds a postMessage round trip (copying the input in, the outputs out) to every run. This measures,
 * in one process and one run, for 1-row and 1,000-row runs under concurrent callers:
 * throughput, round-trip latency (p50/p99) and the main thread's event-loop delay (p99), with the
 * session on the main thread vs in one worker thread (same session options as the server).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { INPUT_WIDTH, packReadings } from '../src/inference/model-io';
import { readings } from './lib/requests';

interface ModelInfo {
  onnx: Uint8Array;
  input: string;
  outputs: string[];
}

function loadModel(dir: string): ModelInfo {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
  return {
    onnx: readFileSync(path.join(dir, manifest.onnx.file)),
    input: manifest.inputs.name ?? 'readings',
    outputs: [manifest.outputs.probabilities.name, manifest.outputs.reconstructionError.name],
  };
}

const OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionProviders: ['cpu'],
};

type Run = (input: Float32Array, rows: number) => Promise<Float32Array[]>;

async function mainThreadRunner(m: ModelInfo): Promise<{ run: Run; close: () => Promise<void> }> {
  const session = await ort.InferenceSession.create(m.onnx, OPTIONS);
  return {
    run: async (input, rows) => {
      const out = await session.run({ [m.input]: new ort.Tensor('float32', input, [rows, INPUT_WIDTH]) });
      return m.outputs.map((n) => out[n].data as Float32Array);
    },
    close: () => session.release(),
  };
}

async function workerRunner(m: ModelInfo): Promise<{ run: Run; close: () => Promise<void> }> {
  const worker = new Worker(__filename, { workerData: m });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  let next = 0;
  const pending = new Map<number, (out: Float32Array[]) => void>();
  worker.on('message', (msg: { id: number; out: Float32Array[] }) => {
    pending.get(msg.id)!(msg.out);
    pending.delete(msg.id);
  });
  return {
    run: (input, rows) =>
      new Promise((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        worker.postMessage({ id, input, rows }, [input.buffer as ArrayBuffer]);
      }),
    close: async () => {
      await worker.terminate();
    },
  };
}

if (!isMainThread) {
  const m = workerData as ModelInfo;
  void ort.InferenceSession.create(m.onnx, OPTIONS).then((session) => {
    parentPort!.on('message', async (msg: { id: number; input: Float32Array; rows: number }) => {
      const out = await session.run({ [m.input]: new ort.Tensor('float32', msg.input, [msg.rows, INPUT_WIDTH]) });
      const arrays = m.outputs.map((n) => out[n].data as Float32Array);
      parentPort!.postMessage(
        { id: msg.id, out: arrays },
        arrays.map((a) => a.buffer as ArrayBuffer),
      );
    });
    parentPort!.postMessage('ready');
  });
}

function pack(rows: number): Float32Array {
  return packReadings(readings(rows, 7));
}

interface Measure {
  runsPerSecond: number;
  rowsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  loopDelayP99Ms: number;
}

/** `callers` concurrent loops, each: pack `rows` rows (a copy, as the server does), run, repeat, for `seconds`. */
async function load(run: Run, rows: number, callers: number, seconds: number): Promise<Measure> {
  const template = pack(rows);
  const times: number[] = [];
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const end = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (Date.now() < end) {
        const t0 = process.hrtime.bigint();
        await run(template.slice(), rows);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        // Let timers and I/O in, as a server between requests would.
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  delay.disable();
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  times.sort((a, b) => a - b);
  const q = (f: number) => times[Math.min(times.length - 1, Math.floor(f * times.length))];
  return {
    runsPerSecond: times.length / wall,
    rowsPerSecond: (times.length * rows) / wall,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    loopDelayP99Ms: delay.percentile(99) / 1e6,
  };
}

async function main(): Promise<void> {
  const dir = path.resolve(process.env.MODEL_DIR ?? 'models');
  const seconds = Number(process.env.SECONDS_PER_CASE ?? 4);
  const m = loadModel(dir);
  const cases = [
    { name: '1-row runs, 64 concurrent callers', rows: 1, callers: 64 },
    { name: '32-row runs (a typical coalesced batch), 8 callers', rows: 32, callers: 8 },
    { name: '1,000-row runs, 8 concurrent callers', rows: 1000, callers: 8 },
  ];
  const results: Array<Record<string, unknown>> = [];
  const runners = { 'main thread': await mainThreadRunner(m), 'worker thread': await workerRunner(m) };
  for (const c of cases) {
    for (const [where, r] of Object.entries(runners)) {
      await load(r.run, c.rows, c.callers, 1); // warm-up
      const res = await load(r.run, c.rows, c.callers, seconds);
      results.push({ case: c.name, where, ...res });
    }
  }
  // Mixed: 1-row callers while 1,000-row runs go on: does a big run stall small ones?
  for (const [where, r] of Object.entries(runners)) {
    const big = load(r.run, 1000, 2, seconds);
    const small = await load(r.run, 1, 16, seconds);
    await big;
    results.push({ case: '1-row runs (16 callers) while 1,000-row runs go on (2 callers)', where, ...small });
  }
  for (const r of Object.values(runners)) await r.close();
  const f = (x: unknown) => (typeof x === 'number' ? (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(3)) : String(x));
  console.log('| case | session on | runs/s | rows/s | round trip p50 | p99 | event-loop delay p99 |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.case} | ${r.where} | ${f(r.runsPerSecond)} | ${f(r.rowsPerSecond)} | ${f(r.p50Ms)} ms | ${f(r.p99Ms)} ms | ${f(r.loopDelayP99Ms)} ms |`,
    );
  }
}

if (isMainThread) void main();
