import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  explanationOf,
  NUMERIC_FIELDS,
  physicalQuantities,
  readingsOutOfRange,
  referenceVariants,
  type References,
  type TrainingRange,
} from '../src/inference/explanation';
import type { Reading } from '../src/inference/model-io';
import { loadModelArtifacts, ModelLoadError, trainingEnvelope } from '../src/inference/model-manifest';
import { TEST_MODEL_DIR } from './helpers/server';

const REFERENCES: References = {
  L: { airTemperature: 300.1, processTemperature: 310.1, rotationalSpeed: 1504, torque: 40, toolWear: 109 },
  M: { airTemperature: 300.2, processTemperature: 310.2, rotationalSpeed: 1503, torque: 40.2, toolWear: 106 },
  H: { airTemperature: 299.8, processTemperature: 309.9, rotationalSpeed: 1500, torque: 40.3, toolWear: 107 },
};

const READING: Reading = {
  airTemperature: 298,
  processTemperature: 308.5,
  rotationalSpeed: 1500,
  torque: 40,
  toolWear: 100,
  productType: 'H',
};

describe('explanation: physical quantities and variants', () => {
  it('computes temperature difference (K), power (W) and strain (min·Nm)', () => {
    const q = physicalQuantities(READING);
    assert.ok(Math.abs(q.temperatureDifference - 10.5) < 1e-9);
    // 40 Nm at 1,500 rpm = 40 Nm x 157.08 rad/s.
    assert.ok(Math.abs(q.power - 6283.185307) < 1e-5, `power ${q.power}`);
    assert.equal(q.strain, 4000);
  });

  it("makes five variants, each with exactly one field at the reading's product-type reference", () => {
    const variants = referenceVariants(READING, REFERENCES);
    assert.equal(variants.length, 5);
    variants.forEach((v, i) => {
      const changed = NUMERIC_FIELDS[i];
      assert.equal(v[changed], REFERENCES.H[changed], `variant ${i} sets ${changed} to the H reference`);
      for (const f of NUMERIC_FIELDS) if (f !== changed) assert.equal(v[f], READING[f], `variant ${i} keeps ${f}`);
      assert.equal(v.productType, 'H');
    });
    assert.equal(READING.torque, 40, 'the reading itself is not changed');
  });
});

describe('explanation: drivers from model answers', () => {
  it('effect = P(reading) - P(variant), largest |effect| first, ties in input order', () => {
    // Variant answers in NUMERIC_FIELDS order: air, process, speed, torque, wear.
    const e = explanationOf(READING, 0.9, [0.9, 0.8, 0.95, 0.1, 0.9], REFERENCES);
    assert.deepEqual(
      e.drivers.map((d) => [d.field, Number(d.effect.toFixed(6))]),
      [
        ['torque', 0.8],
        ['processTemperature', 0.1],
        ['rotationalSpeed', -0.05],
        ['airTemperature', 0],
        ['toolWear', 0],
      ],
    );
    const torque = e.drivers[0];
    assert.equal(torque.value, READING.torque);
    assert.equal(torque.reference, REFERENCES.H.torque);
    assert.equal(e.strain, READING.toolWear * READING.torque);
  });

  it('refuses a wrong number of variant answers', () => {
    assert.throws(() => explanationOf(READING, 0.5, [0.5, 0.5], REFERENCES), /expected 5 variant probabilities, got 2/);
  });
});

describe('outOfRange: readings outside the training envelope', () => {
  const envelope: TrainingRange[] = [
    { field: 'airTemperature', min: 295.3, max: 304.5 },
    { field: 'processTemperature', min: 305.7, max: 313.8 },
    { field: 'rotationalSpeed', min: 1168, max: 2886 },
    { field: 'torque', min: 3.8, max: 76.6 },
    { field: 'toolWear', min: 0, max: 251 },
  ];

  it('is empty when every reading is inside, bounds included', () => {
    assert.deepEqual(readingsOutOfRange(READING, envelope), []);
    const atBounds: Reading = {
      airTemperature: 295.3,
      processTemperature: 313.8,
      rotationalSpeed: 2886,
      torque: 3.8,
      toolWear: 0,
      productType: 'L',
    };
    assert.deepEqual(readingsOutOfRange(atBounds, envelope), []);
  });

  it('lists both temperatures with their training ranges for Celsius readings', () => {
    const celsius: Reading = { ...READING, airTemperature: 25, processTemperature: 35 };
    assert.deepEqual(readingsOutOfRange(celsius, envelope), [
      { field: 'airTemperature', value: 25, trainingMin: 295.3, trainingMax: 304.5 },
      { field: 'processTemperature', value: 35, trainingMin: 305.7, trainingMax: 313.8 },
    ]);
  });

  it('lists a value just past either end', () => {
    const r: Reading = { ...READING, torque: 76.7, toolWear: -0.1 };
    assert.deepEqual(
      readingsOutOfRange(r, envelope).map((o) => o.field),
      ['torque', 'toolWear'],
    );
  });
});

describe('model.json references: checked when the model loads', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const manifest = JSON.parse(readFileSync(path.join(TEST_MODEL_DIR, 'model.json'), 'utf8'));

  /** A model directory with the real ONNX file and an edited model.json. */
  const modelDir = (edit: (m: any) => void): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-references-'));
    dirs.push(dir);
    const m = structuredClone(manifest);
    edit(m);
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(m));
    copyFileSync(path.join(TEST_MODEL_DIR, manifest.onnx.file), path.join(dir, manifest.onnx.file));
    return dir;
  };

  it('loads the shipped model and its references and training envelope', async () => {
    const { manifest: m } = await loadModelArtifacts(TEST_MODEL_DIR);
    for (const type of ['L', 'M', 'H'] as const) for (const f of NUMERIC_FIELDS) assert.ok(Number.isFinite(m.references[type][f]));
    assert.deepEqual(
      trainingEnvelope(m).map((r) => r.field),
      [...NUMERIC_FIELDS],
    );
  });

  it('refuses a model.json without references, saying what is missing', async () => {
    const dir = modelDir((m) => delete m.references);
    await assert.rejects(loadModelArtifacts(dir), (err: unknown) => {
      assert.ok(err instanceof ModelLoadError);
      assert.match(err.message, /"references" is missing: it must give airTemperature, .*toolWear for each product type L, M, H/);
      return true;
    });
  });

  it('refuses a missing product type or a reference outside its training range', async () => {
    await assert.rejects(loadModelArtifacts(modelDir((m) => delete m.references.M)), /"references\.M\.airTemperature" must be a number/);
    await assert.rejects(
      loadModelArtifacts(modelDir((m) => (m.references.H.torque = 500))),
      /"references\.H\.torque" must be a number within its training range \[[\d.]+, [\d.]+\], got 500/,
    );
  });

  it('refuses a numeric column without its training range', async () => {
    await assert.rejects(
      loadModelArtifacts(modelDir((m) => delete m.inputs.columns[3].max)),
      /"inputs\.columns" entry torque needs finite "min" <= "max"/,
    );
  });
});
