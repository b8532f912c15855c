// The inference service's API beyond predict/predictMany (test/inference.service.unit.test.ts): the golden check a
// reload runs, explanations, the training envelope, retiring a replaced model, and the reading each
// prediction carries back. No HTTP server: the service on the shipped model, in this process.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NUMERIC_FIELDS, referenceVariants } from '../src/inference/explanation';
import { InferenceService } from '../src/inference/inference.service';
import type { Reading } from '../src/inference/model-io';
import { ModelLoadError } from '../src/inference/model-manifest';

const MODEL_DIR = path.resolve(process.env.MODEL_DIR ?? 'models');
const manifest = JSON.parse(readFileSync(path.join(MODEL_DIR, 'model.json'), 'utf8'));

const READING: Reading = {
  airTemperature: 300.1,
  processTemperature: 310.2,
  rotationalSpeed: 1500,
  torque: 40.5,
  toolWear: 120,
  productType: 'M',
};

/** The training min/max of a numeric field, as model.json states it. */
function range(field: string): { min: number; max: number } {
  const c = manifest.inputs.columns.find((col: { field: string }) => col.field === field);
  return { min: c.min, max: c.max };
}

describe('InferenceService API', () => {
  let service: InferenceService;
  before(async () => {
    service = await InferenceService.create({ modelDir: MODEL_DIR, device: 'cpu' });
  });
  after(() => service.close());

  it('each prediction carries back the reading it was computed for, in order', async () => {
    const other = { ...READING, torque: 12.25, productType: 'L' as const };
    const [a, b] = await service.predictMany([READING, other]);
    assert.deepEqual(a.reading, READING);
    assert.deepEqual(b.reading, other);
    assert.deepEqual((await service.predict(other)).reading, other);
  });

  it('checkGolden() accepts the shipped model against the golden.json of its directory', async () => {
    await service.checkGolden();
  });

  it('checkGolden() reads golden.json from the model directory and refuses outputs outside tolerance', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-golden-'));
    for (const f of ['model.json', manifest.onnx.file]) copyFileSync(path.join(MODEL_DIR, f), path.join(dir, f));
    const golden = JSON.parse(readFileSync(path.join(MODEL_DIR, 'golden.json'), 'utf8'));
    golden.cases[0].reconstructionError += 1;
    writeFileSync(path.join(dir, 'golden.json'), JSON.stringify(golden));
    const tampered = await InferenceService.create({ modelDir: dir, device: 'cpu' });
    try {
      await assert.rejects(tampered.checkGolden(), (err: Error) => {
        assert.ok(err instanceof ModelLoadError);
        assert.ok(err.message.startsWith(`golden case "${golden.cases[0].name}": reconstruction error is `), err.message);
        return true;
      });
    } finally {
      await tampered.close();
    }
  });

  it('explain(): one driver per numeric field, effect = P(failure) - P(failure) of the reference variant', async () => {
    const prediction = await service.predict(READING);
    const variants = await service.predictMany(referenceVariants(READING, manifest.references));
    const explanation = await service.explain(prediction);
    assert.equal(explanation.drivers.length, NUMERIC_FIELDS.length);
    assert.deepEqual(explanation.drivers.map((d) => d.field).sort(), [...NUMERIC_FIELDS].sort());
    for (const d of explanation.drivers) {
      const i = NUMERIC_FIELDS.indexOf(d.field);
      assert.equal(d.value, READING[d.field]);
      assert.equal(d.reference, manifest.references.M[d.field]);
      assert.equal(d.effect, prediction.failureProbability - variants[i].failureProbability, d.field);
    }
    const sizes = explanation.drivers.map((d) => Math.abs(d.effect));
    assert.deepEqual(
      sizes,
      [...sizes].sort((x, y) => y - x),
      'largest effect first',
    );
    assert.equal(explanation.temperatureDifference, READING.processTemperature - READING.airTemperature);
  });

  it('outOfRange(): the fields outside model.json min/max with their training bounds, [] inside', () => {
    assert.deepEqual(service.outOfRange(READING), []);
    const torque = range('torque');
    const air = range('airTemperature');
    const outside = { ...READING, torque: torque.max + 1, airTemperature: air.min - 1 };
    assert.deepEqual(service.outOfRange(outside), [
      { field: 'airTemperature', value: air.min - 1, trainingMin: air.min, trainingMax: air.max },
      { field: 'torque', value: torque.max + 1, trainingMin: torque.min, trainingMax: torque.max },
    ]);
  });
});

describe('InferenceService retire', () => {
  it('retire() lets queued rows finish on the session, then releases it (closed turns true)', async () => {
    const service = await InferenceService.create({ modelDir: MODEL_DIR, device: 'cpu' });
    assert.equal(service.closed, false);
    const pending = service.predictMany([READING, READING]);
    const retired = service.retire();
    assert.equal(service.closed, false, 'not released while rows are queued');
    const preds = await pending;
    assert.equal(preds.length, 2);
    assert.deepEqual(preds[0].reading, READING);
    await retired;
    assert.equal(service.closed, true);
    assert.deepEqual(service.stats().queuedRows, 0);
  });

  it('closed is true after close()', async () => {
    const service = await InferenceService.create({ modelDir: MODEL_DIR, device: 'cpu' });
    assert.equal(service.closed, false);
    await service.close();
    assert.equal(service.closed, true);
  });
});
