// Parity between the exported ONNX model (onnxruntime-node, CPU) and the outputs computed in
// Python at export time (models/golden.json), plus the artifact contract in models/model.json.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';

const modelDir = path.resolve(process.cwd(), process.env.MODEL_DIR ?? 'models');
const readJson = (file: string): any => JSON.parse(fs.readFileSync(path.join(modelDir, file), 'utf8'));

interface GoldenCase {
  name: string;
  input: number[];
  probabilities: number[];
  reconstructionError: number;
}
interface Golden {
  tolerance: { absolute: number; relative: number };
  cases: GoldenCase[];
}

const meta = readJson('model.json');
const golden: Golden = readJson('golden.json');
const onnxPath = path.join(modelDir, meta.onnx.file);

function close(actual: number, expected: number, what: string): void {
  const { absolute, relative } = golden.tolerance;
  const limit = absolute + relative * Math.abs(expected);
  assert.ok(Math.abs(actual - expected) <= limit, `${what}: got ${actual}, expected ${expected} (limit ${limit})`);
}

async function run(session: ort.InferenceSession, rows: number[][]) {
  const data = Float32Array.from(rows.flat());
  const out = await session.run({ readings: new ort.Tensor('float32', data, [rows.length, 6]) });
  return {
    probabilities: out.probabilities.data as Float32Array,
    probabilitiesDims: out.probabilities.dims,
    error: out.reconstruction_error.data as Float32Array,
    errorDims: out.reconstruction_error.dims,
    names: Object.keys(out).sort(),
  };
}

function checkCase(c: GoldenCase, probs: Float32Array, offset: number, error: number): void {
  for (let k = 0; k < 6; k++) close(probs[offset + k], c.probabilities[k], `${c.name} probability[${k}]`);
  close(error, c.reconstructionError, `${c.name} reconstruction error`);
}

test('model.json describes model.onnx (hash, size, version suffix)', () => {
  const bytes = fs.readFileSync(onnxPath);
  const sha = createHash('sha256').update(bytes).digest('hex');
  assert.equal(meta.onnx.sha256, sha);
  assert.equal(meta.onnx.bytes, bytes.length);
  assert.match(meta.version, /^\d+\.\d+\.\d+\+[0-9a-f]{12}$/);
  assert.equal(meta.version.split('+')[1], sha.slice(0, 12));
  assert.equal(meta.inputs.name, 'readings');
  assert.deepEqual(
    meta.inputs.columns.map((c: { field: string }) => c.field),
    ['airTemperature', 'processTemperature', 'rotationalSpeed', 'torque', 'toolWear', 'productType'],
  );
  assert.deepEqual(
    meta.outputs.probabilities.labels.map((l: { enum: string }) => l.enum),
    ['NO_FAILURE', 'HEAT_DISSIPATION_FAILURE', 'POWER_FAILURE', 'OVERSTRAIN_FAILURE', 'TOOL_WEAR_FAILURE', 'RANDOM_FAILURES'],
  );
  assert.ok(Number.isFinite(meta.anomaly.threshold) && meta.anomaly.threshold > 0);
});

test('golden set covers every class and enough cases', () => {
  assert.ok(golden.cases.length >= 64, `only ${golden.cases.length} golden cases`);
  const argmaxes = new Set(golden.cases.map((c) => c.probabilities.indexOf(Math.max(...c.probabilities))));
  for (const enumName of meta.outputs.probabilities.labels.map((l: { enum: string }) => l.enum)) {
    assert.ok(
      golden.cases.some((c) => c.name.includes(enumName)),
      `no golden case for ${enumName}`,
    );
  }
  assert.ok(argmaxes.size >= 4, 'golden cases should predict several different classes');
});

test('graph names, shapes and golden parity (one batch and row by row)', async () => {
  const session = await ort.InferenceSession.create(onnxPath, { executionProviders: ['cpu'] });
  assert.deepEqual([...session.inputNames], ['readings']);
  assert.deepEqual([...session.outputNames].sort(), ['probabilities', 'reconstruction_error']);

  const batch = await run(
    session,
    golden.cases.map((c) => c.input),
  );
  const n = golden.cases.length;
  assert.deepEqual([...batch.probabilitiesDims], [n, 6]);
  assert.deepEqual([...batch.errorDims], [n]);
  golden.cases.forEach((c, i) => {
    checkCase(c, batch.probabilities, 6 * i, batch.error[i]);
    const sum = Array.from(batch.probabilities.subarray(6 * i, 6 * i + 6)).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `${c.name}: probabilities sum to ${sum}`);
  });

  for (const c of golden.cases) {
    const single = await run(session, [c.input]);
    assert.deepEqual([...single.probabilitiesDims], [1, 6]);
    checkCase(c, single.probabilities, 0, single.error[0]);
  }
});

test('model.json references: the median of each reading per product type over the whole dataset', () => {
  const lines = fs.readFileSync(path.resolve(process.cwd(), 'data/ai4i2020.csv'), 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  const fields: Array<[string, string]> = [
    ['airTemperature', 'Air temperature [K]'],
    ['processTemperature', 'Process temperature [K]'],
    ['rotationalSpeed', 'Rotational speed [rpm]'],
    ['torque', 'Torque [Nm]'],
    ['toolWear', 'Tool wear [min]'],
  ];
  const rows = lines.slice(1).map((l) => l.split(','));
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  assert.deepEqual(Object.keys(meta.references).sort(), ['H', 'L', 'M']);
  for (const type of ['L', 'M', 'H']) {
    const ofType = rows.filter((f) => f[header.indexOf('Type')] === type);
    assert.deepEqual(
      Object.keys(meta.references[type]),
      fields.map(([field]) => field),
    );
    for (const [field, column] of fields) {
      const expected = median(ofType.map((f) => Number(f[header.indexOf(column)])));
      assert.ok(
        Math.abs(meta.references[type][field] - expected) < 1e-9,
        `${type} ${field}: ${meta.references[type][field]} vs ${expected}`,
      );
    }
  }
});
