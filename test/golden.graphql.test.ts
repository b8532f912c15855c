// The golden cases (models/golden.json) through the whole server: GraphQL parsing and validation,
// the resolver, the batcher, packing, onnxruntime and decoding, compared with golden.json under its
// stated tolerance. Plus every input bound from both sides through the same path.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PREDICTION_FIELDS, startServer, TEST_MODEL_DIR, type TestServer } from './helpers/server';

interface GoldenCase {
  name: string;
  input: number[];
  probabilities: number[];
  reconstructionError: number;
}
const golden: { tolerance: { absolute: number; relative: number }; outputLabels: string[]; cases: GoldenCase[] } = JSON.parse(
  readFileSync(path.join(TEST_MODEL_DIR, 'golden.json'), 'utf8'),
);
const manifest = JSON.parse(readFileSync(path.join(TEST_MODEL_DIR, 'model.json'), 'utf8'));
const THRESHOLD: number = manifest.anomaly.threshold;

const BATCH = `mutation($rows: [SensorReadingInput!]!) { predictBatch(inputs: $rows) { ${PREDICTION_FIELDS} } }`;
const PREDICT = `mutation($i: SensorReadingInput!) { predict(input: $i) { ${PREDICTION_FIELDS} } }`;

const readingOf = (c: GoldenCase) => ({
  airTemperature: c.input[0],
  processTemperature: c.input[1],
  rotationalSpeed: c.input[2],
  torque: c.input[3],
  toolWear: c.input[4],
  productType: ['L', 'M', 'H'][c.input[5]],
});

function close(actual: number, expected: number, what: string): void {
  const limit = golden.tolerance.absolute + golden.tolerance.relative * Math.abs(expected);
  assert.equal(typeof actual, 'number', what);
  assert.ok(Math.abs(actual - expected) <= limit, `${what}: got ${actual}, expected ${expected} (limit ${limit})`);
}

function checkCase(c: GoldenCase, p: any, where: string): void {
  assert.deepEqual(
    p.probabilities.map((x: any) => x.failureType),
    golden.outputLabels,
    where,
  );
  c.probabilities.forEach((e, k) => close(p.probabilities[k].probability, e, `${where} probability[${k}]`));
  close(p.failureProbability, 1 - c.probabilities[0], `${where} failureProbability`);
  close(p.reconstructionError, c.reconstructionError, `${where} reconstructionError`);
  const sorted = [...c.probabilities].sort((a, b) => b - a);
  if (sorted[0] - sorted[1] > 1e-3) {
    const top = c.probabilities.indexOf(sorted[0]);
    assert.equal(p.predictedFailureType, golden.outputLabels[top], where);
    assert.equal(p.label, manifest.outputs.probabilities.labels[top].label, where);
    close(p.probability, sorted[0], `${where} probability`);
  }
  if (Math.abs(c.reconstructionError - THRESHOLD) > 1e-4)
    assert.equal(p.isAnomaly, c.reconstructionError > THRESHOLD, `${where} isAnomaly`);
  assert.equal(p.anomalyThreshold, THRESHOLD);
  assert.equal(p.modelVersion, manifest.version);
  assert.equal(p.device, 'cpu');
}

describe('golden cases through GraphQL', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ RATE_LIMIT_ENABLED: 'false', INFERENCE_DEVICE: 'cpu' });
  });
  after(() => s?.close());

  it('predictBatch of every golden case matches golden.json within its tolerance', async () => {
    const r = await s.gql(BATCH, { rows: golden.cases.map(readingOf) });
    assert.equal(r.status, 200, JSON.stringify(r.body.errors));
    const preds = r.body.data.predictBatch;
    assert.equal(preds.length, golden.cases.length);
    golden.cases.forEach((c, i) => checkCase(c, preds[i], `${c.name} (#${i})`));
    assert.ok(preds.filter((p: any) => p.predictedFailureType !== 'NO_FAILURE').length >= 10, 'failure classes are covered');
    assert.ok(preds.filter((p: any) => p.isAnomaly).length >= 10, 'anomalies are covered');
  });

  it('predict of each golden case, concurrently, matches golden.json within its tolerance', async () => {
    const rs = await Promise.all(golden.cases.map((c) => s.gql(PREDICT, { i: readingOf(c) })));
    rs.forEach((r, i) => {
      assert.equal(r.status, 200, JSON.stringify(r.body.errors));
      checkCase(golden.cases[i], r.body.data.predict, `${golden.cases[i].name} (#${i}, predict)`);
    });
  });
});

const below = (x: number) => (x === 0 ? -Number.MIN_VALUE : x - Math.abs(x) * Number.EPSILON);
const above = (x: number) => (x === 0 ? Number.MIN_VALUE : x + Math.abs(x) * Number.EPSILON);
const BOUNDS = [
  { field: 'airTemperature', low: 0, lowInclusive: false, high: 1_000 },
  { field: 'processTemperature', low: 0, lowInclusive: false, high: 1_000 },
  { field: 'rotationalSpeed', low: 0, lowInclusive: true, high: 100_000 },
  { field: 'torque', low: 0, lowInclusive: true, high: 10_000 },
  { field: 'toolWear', low: 0, lowInclusive: true, high: 100_000 },
];
const BASE = readingOf(golden.cases[0]);

describe('input bounds through GraphQL, each field from both sides', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => s?.close());

  it('just inside every bound is scored', async () => {
    const rows = BOUNDS.flatMap(({ field, low, lowInclusive, high }) => [
      { ...BASE, [field]: lowInclusive ? low : above(low) },
      { ...BASE, [field]: high },
    ]);
    const r = await s.gql('mutation($rows: [SensorReadingInput!]!) { predictBatch(inputs: $rows) { label } }', { rows });
    assert.equal(r.status, 200, JSON.stringify(r.body.errors));
    assert.equal(r.body.data.predictBatch.length, rows.length);
  });

  it('just outside every bound is refused with BAD_USER_INPUT naming row, field, constraint and bound', async () => {
    const rows = BOUNDS.flatMap(({ field, low, lowInclusive, high }) => [
      { ...BASE, [field]: lowInclusive ? below(low) : low },
      { ...BASE, [field]: above(high) },
    ]);
    const r = await s.gql('mutation($rows: [SensorReadingInput!]!) { predictBatch(inputs: $rows) { label } }', { rows });
    const err = r.body.errors?.[0];
    assert.equal(err?.extensions?.code, 'BAD_USER_INPUT');
    assert.equal(r.body.data, null);
    assert.deepEqual(
      err!.extensions!.violations.map((v: any) => [v.row, v.field, v.constraint, v.bound]),
      BOUNDS.flatMap(({ field, lowInclusive, high }, i) => [
        [2 * i, field, lowInclusive ? 'min' : 'isPositive', 0],
        [2 * i + 1, field, 'max', high],
      ]),
    );
    assert.deepEqual(
      err!.extensions!.invalidRows,
      rows.map((_, i) => i),
    );
    assert.match(
      err!.message,
      /^Invalid sensor reading: inputs\[0\]\.airTemperature: airTemperature must be a positive number \(and 9 more\)$/,
    );
  });
});
