// What the inference service tells its observers (issue 25): drift counts every answered row once, the
// prediction log gets the calls that name their request, a shadow's tap sees the live rows of every run
// (never an explanation's reference variants) and cannot fail the callers, and traced runs carry the
// model version and device. The service on the shipped model, in this process; the observers are fakes.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GraphQLError } from 'graphql';
import type { RunInfo } from '../src/inference/batcher';
import type { DriftMonitor } from '../src/inference/drift';
import { InferenceService, type PredictionResult } from '../src/inference/inference.service';
import type { Reading } from '../src/inference/model-io';
import { ModelLoadError } from '../src/inference/model-manifest';
import type { PredictionLog } from '../src/prediction-log/prediction-log';
import type { PredictionLogEntry } from '../src/prediction-log/record';

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
const HOT: Reading = { ...READING, airTemperature: 400 };

/** A drift monitor that remembers what it was told. */
function fakeDrift() {
  const seen: string[] = [];
  const monitor = {
    recordOne: (p: PredictionResult) => seen.push(`one:${p.id}`),
    record: (rows: readonly PredictionResult[]) => seen.push(`many:${rows.map((r) => r.id).join(',')}`),
  };
  return { seen, monitor: monitor as unknown as DriftMonitor };
}

describe('InferenceService observers', () => {
  const entries: PredictionLogEntry[] = [];
  const runErrors: unknown[] = [];
  const traced: Array<{ traces: readonly unknown[]; info: RunInfo | undefined }> = [];
  let service: InferenceService;
  before(async () => {
    service = await InferenceService.create({
      modelDir: MODEL_DIR,
      device: 'cpu',
      predictionLog: { append: (e: PredictionLogEntry) => entries.push(e) } as unknown as PredictionLog,
      onRunError: (err) => runErrors.push(err),
      hooks: { onTracedRun: (traces, _rows, _started, _ok, info) => traced.push({ traces, info }) },
    });
  });
  after(() => service.close());

  it('counts every answered row into the drift monitor once, with or without a request id, until told to stop', async () => {
    const drift = fakeDrift();
    service.reportServed(drift.monitor);
    const one = await service.predict(READING);
    const many = await service.predictMany([READING, HOT]);
    const logged = await service.predict(READING, undefined, { requestId: 'r-1' });
    assert.deepEqual(drift.seen, [`one:${one.id}`, `many:${many[0].id},${many[1].id}`, `one:${logged.id}`]);
    service.reportServed(undefined);
    await service.predict(READING);
    await service.predictMany([READING]);
    assert.equal(drift.seen.length, 3);
    entries.length = 0;
  });

  it('appends the calls that name their request to the prediction log, with their ids and range check', async () => {
    entries.length = 0;
    await service.predict(READING);
    await service.predictMany([READING]);
    await service.predict(READING, undefined, { traceId: 'only-a-trace' });
    assert.equal(entries.length, 0, 'no request id: not logged');
    const one = await service.predict(HOT, undefined, { requestId: 'req-1', traceId: 'trace-1' });
    const many = await service.predictMany([READING, HOT], undefined, { requestId: 'req-2' });
    assert.equal(entries.length, 2);
    const [first, second] = entries;
    assert.equal(first.requestId, 'req-1');
    assert.equal(first.traceId, 'trace-1');
    assert.equal(first.role, 'primary');
    assert.deepEqual(first.rows, [one]);
    assert.equal(second.requestId, 'req-2');
    assert.equal(second.traceId, undefined);
    assert.equal(second.role, 'primary');
    assert.deepEqual(second.rows, many);
    // The range check is the service's own: the hot reading is outside the training envelope.
    for (const entry of entries) {
      assert.deepEqual(entry.outOfRange(HOT), service.outOfRange(HOT));
      assert.equal(entry.outOfRange(HOT)[0]?.field, 'airTemperature');
      assert.deepEqual(entry.outOfRange(READING), []);
    }
  });

  it('hands every run’s live rows and answers to the tap, never an explanation’s variants, until stopped', async () => {
    const tapped: Array<{ rows: readonly Reading[]; predictions: readonly PredictionResult[] }> = [];
    service.tapPredictions((rows, predictions) => tapped.push({ rows, predictions }));
    try {
      const many = await service.predictMany([READING, HOT]);
      assert.equal(tapped.length, 1);
      assert.deepEqual(tapped[0].rows, [READING, HOT]);
      assert.deepEqual(tapped[0].predictions, many);
      // An explanation alone: its variants run, the tap hears nothing.
      tapped.length = 0;
      await service.explain(many[0]);
      assert.equal(tapped.length, 0, 'variants are not live rows');
      // An explanation sharing a run with a live row: only the live row reaches the tap.
      const [explained, live] = await Promise.all([service.explain(many[1]), service.predict(READING)]);
      assert.ok(explained.drivers.length > 0);
      const rows = tapped.flatMap((t) => t.rows);
      const predictions = tapped.flatMap((t) => t.predictions);
      assert.deepEqual(rows, [READING]);
      assert.deepEqual(predictions, [live]);
    } finally {
      service.tapPredictions(undefined);
    }
    tapped.length = 0;
    await service.predict(READING);
    assert.equal(tapped.length, 0, 'no tap after tapPredictions(undefined)');
  });

  it('keeps an explanation’s variants from a tap installed while they wait in the queue (a shadow loaded mid-flight)', async () => {
    const [prediction] = await service.predictMany([HOT]);
    const tapped: Reading[] = [];
    // The variants join the batcher's queue now; the tap arrives before their run.
    const explaining = service.explain(prediction);
    service.tapPredictions((rows) => tapped.push(...rows));
    try {
      const [explained, live] = await Promise.all([explaining, service.predict(READING)]);
      assert.ok(explained.drivers.length > 0);
      assert.deepEqual(tapped, [READING], 'only the live row reaches the tap');
      assert.equal(live.reading, READING);
    } finally {
      service.tapPredictions(undefined);
    }
  });

  it('a tap that throws is reported as a run error and never fails the callers', async () => {
    runErrors.length = 0;
    const boom = new Error('tap failed');
    service.tapPredictions(() => {
      throw boom;
    });
    try {
      const p = await service.predict(READING);
      assert.equal(p.reading, READING);
      assert.deepEqual(runErrors, [boom]);
    } finally {
      service.tapPredictions(undefined);
    }
  });

  it('calls onRunError for nothing while no tap is set', async () => {
    service.tapPredictions(undefined);
    runErrors.length = 0;
    await service.predict(READING);
    await service.predictMany([READING, HOT]);
    assert.deepEqual(runErrors, []);
  });

  it('traced runs carry the model version and device; idle() resolves once nothing is queued', async () => {
    traced.length = 0;
    const pending = service.predictMany([READING, HOT], undefined, { trace: 'trace-handle' });
    let idle = false;
    const idled = service.idle().then(() => (idle = true));
    await pending;
    await idled;
    assert.ok(idle);
    assert.equal(service.stats().queuedRows, 0);
    assert.deepEqual(traced, [{ traces: ['trace-handle'], info: { modelVersion: manifest.version, device: 'cpu' } }]);
  });
});

describe('InferenceService observers, on a service created with none', () => {
  let service: InferenceService;
  before(async () => {
    service = await InferenceService.create({ modelDir: MODEL_DIR, device: 'cpu' });
  });
  after(() => service.close());

  it('appends to a prediction log set later with logPredictions, until it is unset', async () => {
    const entries: PredictionLogEntry[] = [];
    await service.predict(READING, undefined, { requestId: 'before' });
    service.logPredictions({ append: (e: PredictionLogEntry) => entries.push(e) } as unknown as PredictionLog);
    const one = await service.predict(READING, undefined, { requestId: 'x' });
    const many = await service.predictMany([READING, HOT], undefined, { requestId: 'y' });
    assert.deepEqual(
      entries.map((e) => [e.requestId, e.role, e.rows]),
      [
        ['x', 'primary', [one]],
        ['y', 'primary', many],
      ],
    );
    service.logPredictions(undefined);
    await service.predict(READING, undefined, { requestId: 'after' });
    await service.predictMany([READING], undefined, { requestId: 'after-many' });
    assert.equal(entries.length, 2, 'nothing appended after logPredictions(undefined)');
  });

  it('a tap that throws, with no onRunError, never fails the callers', async () => {
    let calls = 0;
    service.tapPredictions(() => {
      calls++;
      throw new Error('tap failed');
    });
    try {
      const p = await service.predict(READING);
      assert.equal(p.reading, READING);
      assert.equal(calls, 1);
    } finally {
      service.tapPredictions(undefined);
    }
  });

  it('a failed session run, with no onRunError, rejects with INFERENCE_FAILED', async () => {
    const session = (service as unknown as { session: { run: unknown } }).session;
    const run = session.run;
    session.run = async () => {
      throw new Error('onnxruntime exploded');
    };
    try {
      await assert.rejects(service.predict(READING), (err: GraphQLError) => {
        assert.equal(err.extensions.code, 'INFERENCE_FAILED');
        return true;
      });
    } finally {
      session.run = run;
    }
    assert.equal((await service.predict(READING)).reading, READING);
  });
});

describe('InferenceService.create: a graph that does not match model.json', () => {
  it('names every input and output of the graph, and what model.json expects', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-io-names-'));
    try {
      copyFileSync(path.join(MODEL_DIR, manifest.onnx.file), path.join(dir, manifest.onnx.file));
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...manifest, inputs: { ...manifest.inputs, name: 'sensor_rows' } }));
      await assert.rejects(InferenceService.create({ modelDir: dir, device: 'cpu' }), (err: Error) => {
        assert.ok(err instanceof ModelLoadError);
        assert.equal(
          err.message,
          `model.onnx has inputs [${manifest.inputs.name}] and outputs [${manifest.outputs.probabilities.name}, ${manifest.outputs.reconstructionError.name}]; model.json expects input sensor_rows and outputs ${manifest.outputs.probabilities.name}, ${manifest.outputs.reconstructionError.name}`,
        );
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
