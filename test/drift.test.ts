import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { graphql, type ExecutionResult } from 'graphql';
import type { App } from '../src/app';
import { loadConfig, type Config } from '../src/config';
import type { AppContext } from '../src/context';
import { NUMERIC_FIELDS } from '../src/inference/explanation';
import { ModelHost } from '../src/inference/model-host';
import type { FailureTypeName } from '../src/inference/model-io';
import { createApp, loadModel } from '../src/server';
import { metricValue, parseMetrics, scrape } from './helpers/metrics';
import { LogCapture, NORMAL_READING, startServer, TEST_MODEL_DIR, type TestServer } from './helpers/server';

const DRIFT = `{ modelInfo { drift { windowRows windowSize minRows psiModerate psiSignificant rowsSeen anomalyRate trainingAnomalyRate
  fields { field psi status } classMix { failureType live training } } } }`;
const BATCH = `mutation($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { predictedFailureType isAnomaly } }`;
const FIELD_ENUM: Record<string, string> = {
  airTemperature: 'AIR_TEMPERATURE',
  processTemperature: 'PROCESS_TEMPERATURE',
  rotationalSpeed: 'ROTATIONAL_SPEED',
  torque: 'TORQUE',
  toolWear: 'TOOL_WEAR',
};

/** The training rows (dataset minus the held-out UDIs model.json lists), as GraphQL inputs. */
function trainingReadings() {
  const manifest = JSON.parse(readFileSync(path.join(TEST_MODEL_DIR, 'model.json'), 'utf8'));
  const held = new Set<number>(manifest.training.heldOutUDIs);
  return readFileSync('data/ai4i2020.csv', 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','))
    .filter((c) => !held.has(Number(c[0])))
    .map((c) => ({
      productType: c[2],
      airTemperature: Number(c[3]),
      processTemperature: Number(c[4]),
      rotationalSpeed: Number(c[5]),
      torque: Number(c[6]),
      toolWear: Number(c[7]),
    }));
}

describe('input drift through the real server: the training distribution, then air temperature +5 K', () => {
  let s: TestServer;
  const training = trainingReadings();
  const answered = { anomalies: 0, types: new Map<string, number>() };

  const send = async (readings: typeof training) => {
    for (let i = 0; i < readings.length; i += 1_000) {
      const res = await s.gql(BATCH, { inputs: readings.slice(i, i + 1_000) });
      assert.equal(res.body.errors, undefined, JSON.stringify(res.body.errors));
      for (const p of res.body.data.predictBatch) {
        answered.anomalies += p.isAnomaly ? 1 : 0;
        answered.types.set(p.predictedFailureType, (answered.types.get(p.predictedFailureType) ?? 0) + 1);
      }
    }
  };
  const drift = async () => {
    const res = await s.gql(DRIFT);
    assert.equal(res.body.errors, undefined, JSON.stringify(res.body.errors));
    return res.body.data.modelInfo.drift;
  };
  const statuses = (d: { fields: Array<{ field: string; status: string }> }) =>
    Object.fromEntries(d.fields.map((f) => [f.field, f.status]));

  before(async () => {
    s = await startServer({ RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => s.close());

  it('reports INSUFFICIENT_DATA on every field before DRIFT_MIN_ROWS rows', async () => {
    await send(training.slice(0, 400));
    const d = await drift();
    assert.equal(d.windowRows, 400);
    assert.deepEqual(Object.values(statuses(d)), Array(5).fill('INSUFFICIENT_DATA'));
    assert.deepEqual(
      d.fields.map((f: { field: string }) => f.field),
      NUMERIC_FIELDS.map((f) => FIELD_ENUM[f]),
    );
  });

  it('leaves every field NONE for the unshifted training stream', async () => {
    await send(training.slice(400));
    const d = await drift();
    assert.equal(d.windowRows, training.length);
    assert.equal(d.rowsSeen, training.length);
    assert.deepEqual(Object.values(statuses(d)), Array(5).fill('NONE'));
    for (const f of d.fields) assert.ok(f.psi < 0.01, `${f.field} PSI ${f.psi}: the training rows themselves`);
    const manifest = s.models.service().manifest;
    assert.equal(d.trainingAnomalyRate, manifest.drift!.anomalyRate);
    assert.ok(Math.abs(d.anomalyRate - answered.anomalies / training.length) < 1e-12);
    // The thresholds and window the verdicts use (the defaults here), for clients to draw them.
    assert.deepEqual([d.windowSize, d.minRows, d.psiModerate, d.psiSignificant], [10_000, 500, 0.1, 0.25]);
    // The live class mix is what the server answered; training's is model.json's.
    assert.deepEqual(
      d.classMix.map((c: { failureType: string }) => c.failureType),
      manifest.outputs.probabilities.labels.map((l) => l.enum),
    );
    for (const c of d.classMix) {
      assert.ok(Math.abs(c.live - (answered.types.get(c.failureType) ?? 0) / training.length) < 1e-12, c.failureType);
      assert.equal(c.training, manifest.drift!.classMix[c.failureType as FailureTypeName], c.failureType);
    }
  });

  it('the same through /metrics: PSI per field, bin counts, predicted types and anomalies', async () => {
    const text = await scrape(s.origin);
    for (const field of NUMERIC_FIELDS) {
      assert.ok(metricValue(text, 'pm_input_drift_psi', { field }) < 0.1, field);
      assert.equal(metricValue(text, 'pm_input_bin_rows_total', { field }), training.length, field);
      assert.equal(metricValue(text, 'pm_input_window_rows', { field }), training.length, field);
      const ratios = parseMetrics(text).samples.filter((x) => x.name === 'pm_input_bin_reference_ratio' && x.labels.field === field);
      assert.deepEqual(
        ratios.map((x) => x.value),
        s.models.service().manifest.drift!.fields.find((f) => f.field === field)!.fractions,
      );
    }
    for (const [type, n] of answered.types)
      assert.equal(metricValue(text, 'pm_predicted_failure_types_total', { failure_type: type }), n, type);
    assert.equal(metricValue(text, 'pm_predicted_failure_types_total'), training.length);
    assert.equal(metricValue(text, 'pm_anomalies_total'), answered.anomalies);
  });

  it('moves AIR_TEMPERATURE to SIGNIFICANT within the window and leaves the others NONE', async () => {
    const shifted = training.slice(0, 3_000).map((r) => ({ ...r, airTemperature: Math.round((r.airTemperature + 5) * 10) / 10 }));
    await send(shifted);
    const d = await drift();
    assert.equal(d.windowRows, 10_000, 'the window (DRIFT_WINDOW_ROWS) is full: 7,000 training rows and 3,000 shifted ones');
    assert.equal(d.rowsSeen, training.length + 3_000);
    assert.deepEqual(statuses(d), {
      AIR_TEMPERATURE: 'SIGNIFICANT',
      PROCESS_TEMPERATURE: 'NONE',
      ROTATIONAL_SPEED: 'NONE',
      TORQUE: 'NONE',
      TOOL_WEAR: 'NONE',
    });
    const text = await scrape(s.origin);
    assert.ok(metricValue(text, 'pm_input_drift_psi', { field: 'airTemperature' }) >= 0.25);
    for (const field of NUMERIC_FIELDS.slice(1)) assert.ok(metricValue(text, 'pm_input_drift_psi', { field }) < 0.1, field);
    assert.equal(metricValue(text, 'pm_input_bin_rows_total', { field: 'airTemperature' }), training.length + 3_000);
    assert.equal(metricValue(text, 'pm_input_window_rows', { field: 'airTemperature' }), 10_000);
  });

  it('costs no rate-limit budget and keeps explanations out of the counts', async () => {
    const before = (await drift()).rowsSeen;
    const res = await s.gql(`mutation($input: SensorReadingInput!) { predict(input: $input) { explanation { drivers { field } } } }`, {
      input: NORMAL_READING,
    });
    assert.equal(res.body.errors, undefined, JSON.stringify(res.body.errors));
    assert.equal((await drift()).rowsSeen, before + 1, 'one answered row, not its five reference variants');
  });
});

describe('modelInfo.drift in-process', () => {
  let config: Config;
  let models: ModelHost;
  let app: App;
  const logs = new LogCapture('silent');
  const run = (source: string): Promise<ExecutionResult<any>> =>
    graphql({
      schema: app.schema,
      source,
      contextValue: {
        config,
        models,
        log: logs.logger,
        requestId: 'test',
        clientId: 'ip:in-process',
        apiKeyHash: undefined,
        limiter: undefined,
        budgets: [],
        trace: { errorCodes: [], written: false },
      } satisfies AppContext,
    }) as Promise<ExecutionResult<any>>;

  before(async () => {
    config = loadConfig({
      NODE_ENV: 'test',
      MODEL_DIR: TEST_MODEL_DIR,
      RATE_LIMIT_ENABLED: 'false',
      DRIFT_ENABLED: 'false',
      DRIFT_WINDOW_ROWS: '2000',
      DRIFT_MIN_ROWS: '50',
      DRIFT_PSI_MODERATE: '0.2',
      DRIFT_PSI_SIGNIFICANT: '0.6',
    });
    models = new ModelHost();
    app = await createApp(config, logs.logger, models);
    await loadModel(config, logs.logger, models);
  });
  after(() => app.stop());

  it('with DRIFT_ENABLED=false still answers, with nothing counted', async () => {
    const rows = Array.from({ length: 600 }, () => NORMAL_READING);
    const batch = await run(
      `mutation { predictBatch(inputs: ${JSON.stringify(rows)
        .replace(/"(\w+)":/g, '$1:')
        .replace(/productType:"L"/g, 'productType:L')}) { isAnomaly } }`,
    );
    assert.equal(batch.errors, undefined, JSON.stringify(batch.errors));
    const { data, errors } = await run(DRIFT);
    assert.equal(errors, undefined);
    assert.equal(data.modelInfo.drift.windowRows, 0);
    assert.equal(data.modelInfo.drift.rowsSeen, 0);
    assert.deepEqual(
      data.modelInfo.drift.fields.map((f: { status: string }) => f.status),
      Array(5).fill('INSUFFICIENT_DATA'),
    );
    assert.deepEqual(
      data.modelInfo.drift.classMix.map((c: { live: number }) => c.live),
      Array(6).fill(0),
    );
  });

  it('answers the configured DRIFT_* window and PSI thresholds', async () => {
    const { data, errors } = await run(DRIFT);
    assert.equal(errors, undefined);
    const d = data.modelInfo.drift;
    assert.deepEqual([d.windowSize, d.minRows, d.psiModerate, d.psiSignificant], [2000, 50, 0.2, 0.6]);
  });
});

describe('bad DRIFT_* values stop the server', () => {
  it('exits with code 2 and a one-line reason', async () => {
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      env: { ...process.env, NODE_ENV: 'test', PORT: '0', MODEL_DIR: TEST_MODEL_DIR, DRIFT_PSI_SIGNIFICANT: '0.05' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 2, out);
    assert.equal(out, 'Invalid configuration: DRIFT_PSI_SIGNIFICANT: must be above DRIFT_PSI_MODERATE (0.1), got 0.05\n');
  });
});
