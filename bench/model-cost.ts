// ONNX cost per row of several model files, measured in one process in interleaved rounds so that
// machine load hits every file alike. The first file is the reference; ratios are against it.
//
//   npx tsc -p tsconfig.json && node dist/bench/model-cost.js [--rows 1000] [--rounds 15] [--runs 10] \
//     [--json bench/model-cost.json] reference.onnx other.onnx ...
//
// Session options are the server's (src/inference/inference.service.ts): one intra-op thread, all
// graph optimisations. Inputs are dataset rows, so every file sees the same readings.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { PRODUCT_TYPE_CODE } from '../src/inference/model-io';

const { values: flags, positionals: files } = parseArgs({
  allowPositionals: true,
  strict: true,
  options: {
    rows: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '15' },
    runs: { type: 'string', default: '10' },
    json: { type: 'string' },
  },
});

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

const rows = positiveInt('rows', flags.rows);
const rounds = positiveInt('rounds', flags.rounds);
const runs = positiveInt('runs', flags.runs);
if (files.length < 1) throw new Error('give at least one .onnx file (the first is the reference)');

/** The first `rows` dataset rows (repeated if more are asked for) as the model's input tensor. */
function datasetInput(count: number): ort.Tensor {
  const lines = readFileSync(path.join(process.cwd(), 'data/ai4i2020.csv'), 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  const cols = ['Air temperature [K]', 'Process temperature [K]', 'Rotational speed [rpm]', 'Torque [Nm]', 'Tool wear [min]'].map((c) =>
    header.indexOf(c),
  );
  const type = header.indexOf('Type');
  const data = new Float32Array(count * 6);
  for (let i = 0; i < count; i++) {
    const f = lines[1 + (i % (lines.length - 1))].split(',');
    cols.forEach((c, k) => {
      data[i * 6 + k] = Number(f[c]);
    });
    data[i * 6 + 5] = PRODUCT_TYPE_CODE[f[type] as 'L' | 'M' | 'H'];
  }
  return new ort.Tensor('float32', data, [count, 6]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  const input = datasetInput(rows);
  const models = await Promise.all(
    files.map(async (file) => {
      const bytes = readFileSync(file);
      const session = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionProviders: ['cpu'],
      });
      return { file, sha256: createHash('sha256').update(bytes).digest('hex'), session, samples: [] as number[] };
    }),
  );
  for (const m of models) for (let i = 0; i < 3; i++) await m.session.run({ readings: input }); // warm-up

  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no file always runs first (or right after another).
    for (let k = 0; k < models.length; k++) {
      const m = models[(round + k) % models.length];
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        await m.session.run({ readings: input });
        m.samples.push(((performance.now() - t0) * 1000) / rows);
      }
    }
    const line = models.map((m) => `${path.basename(m.file)} ${median(m.samples).toFixed(3)}`).join(', ');
    console.log(`round ${round + 1}/${rounds}: median µs/row so far: ${line}`);
  }

  const ref = median(models[0].samples);
  const results = models.map((m) => ({
    file: path.basename(m.file),
    sha256: m.sha256,
    usPerRow: Number(median(m.samples).toFixed(3)),
    ratioToReference: Number((median(m.samples) / ref).toFixed(3)),
  }));
  console.log(`\n${rows}-row runs, ${rounds} interleaved rounds x ${runs} runs per file; medians; reference ${results[0].file}`);
  console.log('| file | µs per row | ratio to reference |\n| --- | --- | --- |');
  for (const r of results) console.log(`| ${r.file} | ${r.usPerRow.toFixed(3)} | ${r.ratioToReference.toFixed(3)} |`);

  if (flags.json) {
    const cpus = os.cpus();
    writeFileSync(
      flags.json,
      JSON.stringify(
        {
          command: `node dist/bench/model-cost.js --rows ${rows} --rounds ${rounds} --runs ${runs} ${files.map((f) => path.basename(f)).join(' ')}`,
          measuredAt: new Date().toISOString(),
          machine: `${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, load average ${os.loadavg()[0].toFixed(1)} at the end, onnxruntime-node ${ort.env.versions.common}`,
          rows,
          rounds,
          runs,
          reference: results[0],
          results,
        },
        null,
        1,
      ) + '\n',
    );
    console.log(`wrote ${flags.json}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
