import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodePredictions, FAILURE_TYPES, INPUT_WIDTH, packReadings, PRODUCT_TYPE_CODE, type Reading } from '../../src/inference/model-io';
import type { ModelManifest } from '../../src/inference/model-manifest';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/**
 * A second model the server's checks accept (manifest, hash, first run, golden outputs) that answers
 * differently: a copy of `sourceDir` whose tree ensemble's base value for `target` is moved by `delta`
 * (a shift of one class's logit) and its anomaly threshold scaled, with golden.json recomputed from the changed graph and a new version.
 * The five base values are the TreeEnsembleRegressor's `base_values` attribute, stored unpacked
 * (tag 0x3d, then a little-endian float32 each).
 */
export async function variantModel(sourceDir: string, target: number, delta: number, anomalyThresholdScale = 1): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shadow-model-'));
  cpSync(sourceDir, dir, { recursive: true });
  const manifestPath = path.join(dir, 'model.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ModelManifest;
  const onnxPath = path.join(dir, manifest.onnx.file);
  const onnx = readFileSync(onnxPath);
  const at = onnx.indexOf('base_values');
  if (at < 0) throw new Error('no base_values attribute in the model');
  const offset = at + 'base_values'.length + 5 * target;
  if (onnx[offset] !== 0x3d) throw new Error(`base_values[${target}] is not an unpacked float (byte ${onnx[offset]})`);
  onnx.writeFloatLE(onnx.readFloatLE(offset + 1) + delta, offset + 1);
  writeFileSync(onnxPath, onnx);

  const goldenPath = path.join(dir, 'golden.json');
  const golden = JSON.parse(readFileSync(goldenPath, 'utf8')) as {
    cases: Array<{ input: number[]; probabilities: number[]; reconstructionError: number }>;
  };
  const session = await ort.InferenceSession.create(onnx);
  try {
    const input = new Float32Array(golden.cases.length * INPUT_WIDTH);
    golden.cases.forEach((c, i) => input.set(c.input, i * INPUT_WIDTH));
    const out = await session.run({ [manifest.inputs.name]: new ort.Tensor('float32', input, [golden.cases.length, INPUT_WIDTH]) });
    const probabilities = out[manifest.outputs.probabilities.name].data as Float32Array;
    const errors = out[manifest.outputs.reconstructionError.name].data as Float32Array;
    const k = FAILURE_TYPES.length;
    golden.cases.forEach((c, i) => {
      c.probabilities = [...probabilities.slice(i * k, (i + 1) * k)];
      c.reconstructionError = errors[i];
    });
  } finally {
    await session.release();
  }
  writeFileSync(goldenPath, JSON.stringify(golden, null, 1));
  const digest = sha256(onnx);
  manifest.onnx.sha256 = digest;
  manifest.anomaly.threshold *= anomalyThresholdScale;
  manifest.version = `${manifest.version.split('+')[0]}-shadowtest+${digest.slice(0, 12)}`;
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 1));
  return dir;
}

/** `n` readings spread over the training envelope (a fixed LCG: the same rows every run). */
export function spreadReadings(n: number, seed = 7): Reading[] {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  const types = Object.keys(PRODUCT_TYPE_CODE) as Reading['productType'][];
  const rows: Reading[] = [];
  for (let i = 0; i < n; i++) {
    const air = 295.5 + next() * 9;
    rows.push({
      airTemperature: Math.round(air * 10) / 10,
      processTemperature: Math.round((air + 8 + next() * 4) * 10) / 10,
      rotationalSpeed: Math.round(1_170 + next() * 1_700),
      torque: Math.round((4 + next() * 70) * 10) / 10,
      toolWear: Math.round(next() * 250),
      productType: types[Math.floor(next() * 3)],
    });
  }
  return rows;
}

/** What two model directories answer for `rows`, compared offline (own sessions, no server). */
export async function compareOffline(
  primaryDir: string,
  shadowDir: string,
  rows: readonly Reading[],
): Promise<{ same: number; sameAnomaly: number; deltaSum: number; pairs: Map<string, number> }> {
  const [p, s] = await Promise.all([predictOffline(primaryDir, rows), predictOffline(shadowDir, rows)]);
  let same = 0;
  let sameAnomaly = 0;
  let deltaSum = 0;
  const pairs = new Map<string, number>();
  for (let i = 0; i < rows.length; i++) {
    if (p[i].predictedFailureType === s[i].predictedFailureType) same++;
    else {
      const key = `${p[i].predictedFailureType}>${s[i].predictedFailureType}`;
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    if (p[i].isAnomaly === s[i].isAnomaly) sameAnomaly++;
    let d = 0;
    for (let k = 0; k < p[i].probabilities.length; k++)
      d += Math.abs(p[i].probabilities[k].probability - s[i].probabilities[k].probability);
    deltaSum += d / p[i].probabilities.length;
  }
  return { same, sameAnomaly, deltaSum, pairs };
}

export async function predictOffline(dir: string, rows: readonly Reading[]) {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as ModelManifest;
  const session = await ort.InferenceSession.create(readFileSync(path.join(dir, manifest.onnx.file)));
  try {
    const out = await session.run({
      [manifest.inputs.name]: new ort.Tensor('float32', packReadings(rows), [rows.length, INPUT_WIDTH]),
    });
    return decodePredictions(
      {
        probabilities: out[manifest.outputs.probabilities.name].data as Float32Array,
        reconstructionError: out[manifest.outputs.reconstructionError.name].data as Float32Array,
      },
      rows.length,
      {
        labels: manifest.outputs.probabilities.labels,
        anomalyThreshold: manifest.anomaly.threshold,
        device: 'cpu',
        modelVersion: manifest.version,
      },
    );
  } finally {
    await session.release();
  }
}
