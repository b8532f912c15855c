// isAnomaly behaviour of the shipped model: physically odd readings must be flagged, normal
// operating rows must (almost) never be.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { PRODUCT_TYPE_CODE } from '../src/inference/model-io';

const root = process.cwd();
const modelDir = path.resolve(root, process.env.MODEL_DIR ?? 'models');
const meta = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
const threshold: number = meta.anomaly.threshold;
const TYPE_CODE: Record<string, number> = PRODUCT_TYPE_CODE;

interface OddReading {
  airTemperature: number;
  processTemperature: number;
  rotationalSpeed: number;
  torque: number;
  toolWear: number;
  productType: 'L' | 'M' | 'H';
  why: string;
}

async function errors(rows: number[][]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path.join(modelDir, meta.onnx.file));
  const input = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 6]);
  const out = await session.run({ readings: input });
  return out.reconstruction_error.data as Float32Array;
}

/** No Failure rows of the dataset as [udi, readings]; the label rule matches training/data.py. */
function normalRows(): Array<[number, number[]]> {
  const lines = fs.readFileSync(path.join(root, 'data/ai4i2020.csv'), 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  const col = (name: string) => header.indexOf(name);
  const flags = ['TWF', 'HDF', 'PWF', 'OSF', 'RNF'].map(col);
  const readings = ['Air temperature [K]', 'Process temperature [K]', 'Rotational speed [rpm]', 'Torque [Nm]', 'Tool wear [min]'].map(col);
  return lines
    .slice(1)
    .map((l) => l.split(','))
    .filter((f) => flags.every((i) => f[i] === '0'))
    .map((f) => [Number(f[col('UDI')]), [...readings.map((i) => Number(f[i])), TYPE_CODE[f[col('Type')]]]]);
}

test('physically odd readings are flagged (>= 95 %)', async () => {
  const odd: OddReading[] = JSON.parse(fs.readFileSync(path.join(root, 'data/anomaly-readings.json'), 'utf8'));
  assert.ok(odd.length >= 40, `only ${odd.length} odd readings`);
  for (const o of odd) {
    // The server rejects impossible values, so the set must only hold possible ones.
    assert.ok(o.airTemperature > 0 && o.processTemperature > 0, `${o.why}: kelvin must be positive`);
    assert.ok(o.rotationalSpeed >= 0 && o.torque >= 0 && o.toolWear >= 0, `${o.why}: negative reading`);
    assert.ok(o.productType in TYPE_CODE, `${o.why}: bad product type`);
  }
  const err = await errors(
    odd.map((o) => [o.airTemperature, o.processTemperature, o.rotationalSpeed, o.torque, o.toolWear, TYPE_CODE[o.productType]]),
  );
  const missed = odd.filter((_, i) => !(err[i] > threshold)).map((o) => o.why);
  const rate = 1 - missed.length / odd.length;
  assert.ok(rate >= 0.95, `fire rate ${rate}; not flagged: ${missed.join('; ')}`);
});

test('held-out normal rows of the shipped split are rarely flagged (<= 1 %)', async () => {
  const heldOut = new Set<number>(meta.training.heldOutUDIs);
  assert.ok(heldOut.size > 0, 'model.json lists no held-out rows');
  const rows = normalRows().filter(([udi]) => heldOut.has(udi));
  assert.ok(rows.length > 1500);
  const err = await errors(rows.map(([, r]) => r));
  const rate = err.filter((e) => e > threshold).length / rows.length;
  assert.ok(rate <= 0.01, `held-out normal fire rate ${rate}`);
});

test('all normal rows of the dataset are rarely flagged (<= 2 %)', async () => {
  const rows = normalRows();
  assert.equal(rows.length, 9652); // includes the 9 "Machine failure" rows without a mode flag
  const err = await errors(rows.map(([, r]) => r));
  const rate = err.filter((e) => e > threshold).length / rows.length;
  assert.ok(rate <= 0.02, `normal fire rate ${rate}`);
});
