import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { graphql, type ExecutionResult } from 'graphql';
import type { App } from '../src/app';
import { loadConfig, type Config } from '../src/config';
import type { AppContext } from '../src/context';
import { InferenceService } from '../src/inference/inference.service';
import { ModelHost } from '../src/inference/model-host';
import { packReadings, type Reading } from '../src/inference/model-io';
import { FailureType } from '../src/schema/failure-type.enum';
import { createApp, loadModel } from '../src/server';
import { failRuns, holdRuns, LogCapture, NORMAL_READING, PREDICTION_FIELDS, TEST_MODEL_DIR } from './helpers/server';

/** GraphQL executed in-process against the app's schema: resolvers, validation and the real model, no HTTP. */
describe('GraphQL schema in-process', () => {
  let config: Config;
  let models: ModelHost;
  let app: App;
  let service: InferenceService;
  const logs = new LogCapture('silent');

  const run = (source: string, variableValues?: Record<string, unknown>, host = models): Promise<ExecutionResult<any>> => {
    const contextValue: AppContext = {
      config,
      models: host,
      log: logs.logger,
      requestId: 'test',
      clientId: 'ip:in-process',
      apiKeyHash: undefined,
      limiter: undefined,
      budgets: [],
      trace: { errorCodes: [], written: false },
    };
    return graphql({ schema: app.schema, source, variableValues, contextValue }) as Promise<ExecutionResult<any>>;
  };
  const PREDICT = `mutation($input: SensorReadingInput!) { predict(input: $input) { ${PREDICTION_FIELDS} } }`;
  const BATCH = `mutation($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { ${PREDICTION_FIELDS} } }`;

  before(async () => {
    config = loadConfig({
      NODE_ENV: 'test',
      MODEL_DIR: TEST_MODEL_DIR,
      MAX_BATCH_ROWS: '50',
      MAX_QUEUE_ROWS: '60',
      RATE_LIMIT_ENABLED: 'false',
    });
    models = new ModelHost();
    app = await createApp(config, logs.logger, models);
    service = await loadModel(config, logs.logger, models);
  });
  after(() => app.stop());

  it('predict returns a consistent prediction for a normal reading', async () => {
    const { data, errors } = await run(PREDICT, { input: NORMAL_READING });
    assert.equal(errors, undefined);
    const p = data.predict;
    assert.deepEqual(
      p.probabilities.map((x: any) => x.failureType),
      Object.values(FailureType),
    );
    const sum = p.probabilities.reduce((s: number, x: any) => s + x.probability, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
    const best = p.probabilities.reduce((a: any, b: any) => (b.probability > a.probability ? b : a));
    assert.equal(p.predictedFailureType, best.failureType);
    assert.equal(p.label, best.label);
    assert.equal(p.probability, best.probability);
    assert.ok(Math.abs(p.failureProbability - (1 - p.probabilities[0].probability)) < 1e-9);
    assert.equal(p.anomalyThreshold, service.manifest.anomaly.threshold);
    assert.equal(p.isAnomaly, p.reconstructionError > p.anomalyThreshold);
    assert.equal(p.device, 'cpu');
    assert.equal(p.modelVersion, service.manifest.version);
  });

  it('answers every caller with its own rows when many different requests interleave', async () => {
    const readings = Array.from({ length: 40 }, (_, i) => ({
      ...NORMAL_READING,
      airTemperature: 296 + (i % 9),
      processTemperature: 306 + (i % 8),
      rotationalSpeed: 1200 + 37 * i,
      torque: 5 + 1.7 * i,
      toolWear: 5 * i,
      productType: ['L', 'M', 'H'][i % 3],
    }));
    // The expected answer for each reading, from one-row model runs outside the batcher.
    const expected = await Promise.all(
      readings.map(async (r) => {
        const out = await service.runModel(packReadings([r as Reading]), 1);
        return { probs: Array.from(out.probabilities), error: out.reconstructionError[0] };
      }),
    );
    const runsBefore = service.stats().runs;
    const calls = readings.map((r, i) =>
      i % 4 === 0
        ? run(BATCH, { inputs: [readings[(i + 1) % 40], r, readings[(i + 2) % 40]] }).then((res) => ({ i, res, batch: true }))
        : run(PREDICT, { input: r }).then((res) => ({ i, res, batch: false })),
    );
    for (const { i, res, batch } of await Promise.all(calls)) {
      assert.equal(res.errors, undefined);
      const rows = batch ? res.data.predictBatch : [res.data.predict];
      const ids = batch ? [(i + 1) % 40, i, (i + 2) % 40] : [i];
      rows.forEach((row: any, k: number) => {
        const want = expected[ids[k]];
        row.probabilities.forEach((p: any, c: number) =>
          assert.ok(Math.abs(p.probability - want.probs[c]) < 1e-6, `reading ${ids[k]} class ${c}`),
        );
        assert.ok(Math.abs(row.reconstructionError - want.error) <= 1e-6 * Math.max(1, want.error));
      });
    }
    assert.ok(service.stats().runs - runsBefore < calls.length, 'concurrent requests should share ONNX runs');
  });

  it('predictBatch keeps input order and accepts MAX_BATCH_ROWS rows', async () => {
    const inputs = Array.from({ length: 50 }, (_, i) => ({ ...NORMAL_READING, torque: 10 + i }));
    const { data, errors } = await run(BATCH, { inputs });
    assert.equal(errors, undefined);
    assert.equal(data.predictBatch.length, 50);
    const single = await run(PREDICT, { input: inputs[37] });
    assert.deepEqual(data.predictBatch[37], single.data!.predict);
  });

  it('rejects physically impossible readings with BAD_USER_INPUT naming field, value and bound', async () => {
    const { errors } = await run(PREDICT, { input: { ...NORMAL_READING, processTemperature: 0 } });
    assert.equal(errors?.[0].extensions?.code, 'BAD_USER_INPUT');
    assert.deepEqual(
      (errors![0].extensions!.violations as any[]).map(({ field, value, constraint, bound }) => ({ field, value, constraint, bound })),
      [{ field: 'processTemperature', value: 0, constraint: 'isPositive', bound: 0 }],
    );
  });

  it('accepts physically possible but unusual readings and flags them as anomalies', async () => {
    const { data, errors } = await run(PREDICT, { input: { ...NORMAL_READING, airTemperature: 25, processTemperature: 35 } });
    assert.equal(errors, undefined);
    assert.equal(data.predict.isAnomaly, true);
  });

  it('rejects a batch with any invalid row and lists every offending row and field', async () => {
    const inputs = Array.from({ length: 10 }, () => ({ ...NORMAL_READING }));
    inputs[2] = { ...NORMAL_READING, torque: -1 };
    inputs[7] = { ...NORMAL_READING, toolWear: 1e7, rotationalSpeed: -3 };
    const { data, errors } = await run(BATCH, { inputs });
    assert.equal(data, null);
    assert.equal(errors?.[0].extensions?.code, 'BAD_USER_INPUT');
    assert.deepEqual(errors![0].extensions!.invalidRows, [2, 7]);
    assert.deepEqual(
      (errors![0].extensions!.violations as any[]).map((v) => `${v.row}.${v.field}.${v.constraint}`),
      ['2.torque.min', '7.rotationalSpeed.min', '7.toolWear.max'],
    );
  });

  it('enforces 1..MAX_BATCH_ROWS rows per batch', async () => {
    for (const [n, constraint, bound] of [
      [0, 'arrayMinSize', 1],
      [51, 'arrayMaxSize', 50],
    ] as const) {
      const { errors } = await run(BATCH, { inputs: Array.from({ length: n }, () => NORMAL_READING) });
      assert.equal(errors?.[0].extensions?.code, 'BAD_USER_INPUT');
      assert.deepEqual(errors![0].extensions!.violations, [
        { field: 'inputs', value: n, constraint, bound, message: `inputs must hold 1 to 50 readings, got ${n}` },
      ]);
    }
  });

  it('answers MODEL_NOT_READY before the model is loaded, while health still works', async () => {
    const loading = new ModelHost();
    const { errors } = await run(PREDICT, { input: NORMAL_READING }, loading);
    assert.equal(errors?.[0].extensions?.code, 'MODEL_NOT_READY');
    const health = await run('{ health { status modelLoaded device modelVersion } }', undefined, loading);
    assert.deepEqual({ ...health.data!.health }, { status: 'LOADING', modelLoaded: false, device: null, modelVersion: null });
  });

  it('fails a run with INFERENCE_FAILED for each of its waiters and keeps serving', async () => {
    const faulty = failRuns(service, 'onnxruntime exploded');
    try {
      const results = await Promise.all([
        run(PREDICT, { input: NORMAL_READING }),
        run(BATCH, { inputs: [NORMAL_READING, NORMAL_READING] }),
      ]);
      for (const r of results) assert.equal(r.errors?.[0].extensions?.code, 'INFERENCE_FAILED');
      assert.doesNotMatch(JSON.stringify(results), /exploded/);
    } finally {
      faulty.restore();
    }
    const { errors } = await run(PREDICT, { input: NORMAL_READING });
    assert.equal(errors, undefined);
  });

  it('refuses work past the queue bound with SERVER_BUSY', async () => {
    const hold = holdRuns(service);
    try {
      const held = run(BATCH, { inputs: Array.from({ length: 50 }, () => NORMAL_READING) });
      await new Promise((r) => setImmediate(r));
      const busy = await run(BATCH, { inputs: Array.from({ length: 11 }, () => NORMAL_READING) });
      assert.equal(busy.errors?.[0].extensions?.code, 'SERVER_BUSY');
      const fits = run(BATCH, { inputs: Array.from({ length: 10 }, () => NORMAL_READING) });
      hold.release();
      assert.equal((await held).errors, undefined);
      assert.equal((await fits).errors, undefined);
    } finally {
      hold.restore();
    }
  });

  it('modelInfo reports the manifest, device and batching statistics', async () => {
    const { data, errors } = await run(`{ modelInfo { name version inputs { field unit trainingMin trainingMax }
      failureTypes { failureType label f1 { mean std } nearBoundaryF1 } metrics { protocol nearBoundaryProtocol macroF1 { mean } }
      anomalyThreshold device availableProviders
      batching { maxBatchSize maxBatchRows runs rows meanRowsPerRun } } }`);
    assert.equal(errors, undefined);
    const info = data.modelInfo;
    assert.equal(info.version, service.manifest.version);
    assert.deepEqual(
      info.inputs.map((i: any) => i.field),
      ['airTemperature', 'processTemperature', 'rotationalSpeed', 'torque', 'toolWear', 'productType'],
    );
    assert.deepEqual(info.inputs.map((i: any) => i.unit).slice(0, 5), ['K', 'K', 'rpm', 'Nm', 'min']);
    assert.ok(info.inputs[0].trainingMin < info.inputs[0].trainingMax);
    assert.deepEqual(
      info.failureTypes.map((f: any) => f.failureType),
      Object.values(FailureType),
    );
    // The metrics are model.json's, class by class, including the near-boundary ones.
    const m = service.manifest.metrics;
    assert.ok(m.nearBoundary, 'the shipped model.json records near-boundary metrics');
    for (const f of info.failureTypes) {
      assert.deepEqual(f.f1 === null ? null : { ...f.f1 }, m.perClassF1?.[f.failureType as FailureType] ?? null, `${f.failureType} f1`);
      assert.equal(f.nearBoundaryF1, m.nearBoundary.perClassF1[f.failureType as FailureType] ?? null, `${f.failureType} nearBoundaryF1`);
    }
    assert.equal(typeof info.failureTypes[2].nearBoundaryF1, 'number');
    assert.equal(info.failureTypes[4].nearBoundaryF1, null, 'the near-boundary set holds no tool-wear labels');
    assert.equal(info.metrics.nearBoundaryProtocol, m.nearBoundary.protocol);
    assert.equal(info.metrics.macroF1.mean, m.macroF1?.mean);
    assert.equal(info.device, 'cpu');
    assert.ok(info.availableProviders.includes('cpu'));
    assert.equal(info.batching.maxBatchRows, 50);
    assert.ok(info.batching.runs > 0 && info.batching.rows >= info.batching.runs);
    assert.equal(info.batching.meanRowsPerRun, info.batching.rows / info.batching.runs);
  });
});
