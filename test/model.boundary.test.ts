// The shipped model on the near-boundary evaluation set (data/near-boundary.csv, written by the
// training pipeline from the dataset alone, labelled by the published generating rules): the F1
// floors of issue 12, and agreement between what onnxruntime-node computes and what model.json records.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { PRODUCT_TYPE_CODE } from '../src/inference/model-io';

const root = process.cwd();
const modelDir = path.resolve(root, process.env.MODEL_DIR ?? 'models');
const meta = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
const LABELS: string[] = meta.outputs.probabilities.labels.map((l: { enum: string }) => l.enum);
const FLOORS: Record<string, number> = {
  NO_FAILURE: 0.995,
  HEAT_DISSIPATION_FAILURE: 0.98,
  POWER_FAILURE: 0.98,
  OVERSTRAIN_FAILURE: 0.98,
};

async function infer(rows: number[][]) {
  const session = await ort.InferenceSession.create(path.join(modelDir, meta.onnx.file));
  const out = await session.run({ readings: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 6]) });
  return { probabilities: out.probabilities.data as Float32Array, errors: out.reconstruction_error.data as Float32Array };
}

function loadSet(): { csv: Buffer; rows: number[][]; labels: number[] } {
  const csv = fs.readFileSync(path.join(root, 'data/near-boundary.csv'));
  const lines = csv.toString('utf8').trim().split('\n');
  assert.equal(lines[0], 'airTemperature,processTemperature,rotationalSpeed,torque,toolWear,productType,label,stratum');
  const rows: number[][] = [];
  const labels: number[] = [];
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    rows.push([...f.slice(0, 5).map(Number), PRODUCT_TYPE_CODE[f[5] as 'L' | 'M' | 'H']]);
    labels.push(LABELS.indexOf(f[6]));
  }
  return { csv, rows, labels };
}

function f1(truth: number[], predicted: number[], cls: number): number {
  let tp = 0,
    fp = 0,
    fn = 0;
  truth.forEach((t, i) => {
    if (predicted[i] === cls && t === cls) tp++;
    else if (predicted[i] === cls) fp++;
    else if (t === cls) fn++;
  });
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

test('near-boundary set: floors met and model.json figures reproduced by onnxruntime', async () => {
  const { csv, rows, labels } = loadSet();
  const nb = meta.metrics.nearBoundary;
  assert.equal(createHash('sha256').update(csv).digest('hex'), nb.set.sha256, 'model.json was measured on this file');
  assert.equal(rows.length, nb.set.rows);
  assert.ok(rows.length >= 15000 && nb.set.nearBoundaryRows >= 5000, 'the set is the size the card says');
  const { probabilities, errors } = await infer(rows);
  const predicted = rows.map((_, i) => {
    let best = 0;
    for (let c = 1; c < LABELS.length; c++) if (probabilities[i * LABELS.length + c] > probabilities[i * LABELS.length + best]) best = c;
    return best;
  });
  for (const [name, floor] of Object.entries(FLOORS)) {
    const score = f1(labels, predicted, LABELS.indexOf(name));
    // float32 onnxruntime against float64 sklearn: at most a near-tie or two may flip.
    assert.ok(Math.abs(score - nb.perClassF1[name]) <= 2e-3, `${name}: onnxruntime F1 ${score}, model.json ${nb.perClassF1[name]}`);
    if (!meta.training.quick) assert.ok(score >= floor, `${name}: near-boundary F1 ${score} below the floor ${floor}`);
  }
  const fire = errors.filter((e) => e > meta.anomaly.threshold).length / rows.length;
  assert.ok(
    Math.abs(fire - meta.anomaly.nearBoundaryFireRate) <= 1e-3,
    `anomaly fire rate ${fire}, model.json ${meta.anomaly.nearBoundaryFireRate}`,
  );
});

test('tool wear failure probability rises only in the 200-240 min window', async () => {
  const wear = Array.from({ length: 251 }, (_, w) => w);
  const { probabilities } = await infer(wear.map((w) => [300, 310, 1500, 40, w, 0]));
  const twf = LABELS.indexOf('TOOL_WEAR_FAILURE');
  const p = (w: number) => probabilities[w * LABELS.length + twf];
  const before = Math.max(...wear.filter((w) => w < 195).map(p));
  const inside = wear.filter((w) => w >= 205 && w <= 240).map(p);
  assert.ok(before < 0.005, `P(tool wear failure) before 195 min reaches ${before}`);
  assert.ok(Math.min(...inside) > 0.01, `P(tool wear failure) in 205-240 min falls to ${Math.min(...inside)}`);
  assert.ok(p(240) > p(200), 'the probability grows through the window');
});
