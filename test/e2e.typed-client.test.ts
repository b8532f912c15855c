import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  parse,
  printSchema,
  type IntrospectionQuery,
} from 'graphql';
import { execute, GraphQLRequestError } from '../client/execute';
import {
  ExplainBatchDocument,
  ExplainPredictionDocument,
  HealthDocument,
  ModelInfoDocument,
  PredictBatchDocument,
  PredictDocument,
  RateLimitDocument,
  type ExplainBatchMutation,
  type ExplainPredictionMutation,
  type FailureType,
  type HealthQuery,
  type ModelInfoQuery,
  type PredictBatchMutation,
  type PredictMutation,
  type PredictionFieldsFragment,
  type RateLimitQuery,
  type ReadingField,
  type SensorReadingInput,
} from '../client/generated/graphql';
import { NORMAL_READING, startServer, type TestServer } from './helpers/server';

// The shared reading, checked against the generated input type.
const READING: SensorReadingInput = NORMAL_READING;

const FAILURE_TYPES: FailureType[] = [
  'NO_FAILURE',
  'HEAT_DISSIPATION_FAILURE',
  'POWER_FAILURE',
  'OVERSTRAIN_FAILURE',
  'TOOL_WEAR_FAILURE',
  'RANDOM_FAILURES',
];

/** Compile-time checks only (never called): tsc rejects wrong variables and unselected fields. */
export async function typeChecks(url: string): Promise<void> {
  const withoutProductType = { airTemperature: 300, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 0 };
  // @ts-expect-error productType is required by SensorReadingInput
  await execute(url, PredictDocument, { input: withoutProductType });
  // @ts-expect-error productType is an enum of L, M, H
  await execute(url, PredictDocument, { input: { ...READING, productType: 'X' } });
  // @ts-expect-error predict needs its variables
  await execute(url, PredictDocument);
  const health: HealthQuery = await execute(url, HealthDocument);
  // @ts-expect-error the Health operation does not select modelInfo
  void health.modelInfo;
  const plain: PredictMutation = await execute(url, PredictDocument, { input: READING });
  // @ts-expect-error Predict does not select explanation (it costs model runs; ExplainPrediction does)
  void plain.predict.explanation;
}

function assertPrediction(p: PredictionFieldsFragment): void {
  assert.ok(FAILURE_TYPES.includes(p.predictedFailureType));
  assert.equal(p.probabilities.length, 6);
  assert.deepEqual(
    p.probabilities.map((x) => x.failureType),
    FAILURE_TYPES,
  );
  const sum = p.probabilities.reduce((s, x) => s + x.probability, 0);
  assert.ok(Math.abs(sum - 1) < 1e-3, `probabilities sum to ${sum}`);
  for (const x of p.probabilities) assert.ok(x.probability >= 0 && x.probability <= 1);
  const best = p.probabilities.find((x) => x.failureType === p.predictedFailureType);
  assert.equal(best?.label, p.label);
  assert.equal(typeof p.isAnomaly, 'boolean');
  assert.equal(p.isAnomaly, p.reconstructionError > p.anomalyThreshold);
  assert.ok(p.anomalyThreshold > 0);
  assert.ok(p.modelVersion.length > 0);
  assert.ok(p.device === 'cpu' || p.device === 'cuda');
}

/** The real server on port 0, driven only through the generated typed client. */
describe('typed client (client/generated) against the real server', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ LOG_LEVEL: 'silent' });
  });
  after(() => server.close());

  it('health: READY with the model version', async () => {
    const data: HealthQuery = await execute(server.url, HealthDocument);
    assert.equal(data.health.status, 'READY');
    assert.equal(data.health.modelLoaded, true);
    assert.ok(data.health.modelVersion);
    assert.ok(data.health.uptimeSeconds >= 0);
  });

  it('modelInfo: six failure types in FailureType order, inputs in model order', async () => {
    const data: ModelInfoQuery = await execute(server.url, ModelInfoDocument);
    const info = data.modelInfo;
    assert.deepEqual(
      info.failureTypes.map((f) => f.failureType),
      FAILURE_TYPES,
    );
    assert.deepEqual(
      info.inputs.map((i) => i.field),
      ['airTemperature', 'processTemperature', 'rotationalSpeed', 'torque', 'toolWear', 'productType'],
    );
    assert.ok(info.anomalyThreshold > 0);
    assert.ok(info.batching.maxBatchRows >= 1);
    // The near-boundary F1 is typed number | null: set for the four classes the set holds.
    const nearBoundary: Array<number | null | undefined> = info.failureTypes.map((f) => f.nearBoundaryF1);
    assert.ok(nearBoundary.slice(0, 4).every((v) => typeof v === 'number' && v > 0 && v <= 1));
    assert.deepEqual(nearBoundary.slice(4), [null, null]);
    assert.ok(info.metrics.nearBoundaryProtocol);
  });

  it('predict: a typed prediction', async () => {
    const data: PredictMutation = await execute(server.url, PredictDocument, { input: READING });
    assertPrediction(data.predict);
  });

  it('predictBatch: one typed prediction per reading, in input order', async () => {
    const inputs: SensorReadingInput[] = [
      READING,
      { ...READING, productType: 'H', toolWear: 220 },
      { ...READING, torque: 70, rotationalSpeed: 1200 },
    ];
    const data: PredictBatchMutation = await execute(server.url, PredictBatchDocument, { inputs });
    assert.equal(data.predictBatch.length, 3);
    data.predictBatch.forEach(assertPrediction);
    // The same reading alone and in a batch gets the same answer.
    const single: PredictMutation = await execute(server.url, PredictDocument, { input: inputs[2] });
    assert.equal(data.predictBatch[2].predictedFailureType, single.predict.predictedFailureType);
    assert.ok(Math.abs(data.predictBatch[2].probability - single.predict.probability) < 1e-5);
  });

  it('rateLimit: predictions spend the budget, reading it does not', async () => {
    const first: RateLimitQuery = await execute(server.url, RateLimitDocument);
    assert.equal(first.rateLimit.enabled, true);
    await execute(server.url, PredictBatchDocument, { inputs: [READING, READING] });
    const second: RateLimitQuery = await execute(server.url, RateLimitDocument);
    assert.equal(second.rateLimit.used, first.rateLimit.used + 1);
    assert.equal(second.rateLimit.rowsUsed, first.rateLimit.rowsUsed + 2);
    assert.equal(second.rateLimit.remaining, second.rateLimit.limit - second.rateLimit.used);
  });

  it('explainPrediction: typed drivers (torque first for a low-power reading) for 6 rows of budget', async () => {
    const before: RateLimitQuery = await execute(server.url, RateLimitDocument);
    const lowPower: SensorReadingInput = { ...READING, torque: 18 };
    const data: ExplainPredictionMutation = await execute(server.url, ExplainPredictionDocument, { input: lowPower });
    assertPrediction(data.predict);
    const { explanation } = data.predict;
    const fields: ReadingField[] = explanation.drivers.map((d) => d.field);
    assert.deepEqual([...fields].sort(), ['AIR_TEMPERATURE', 'PROCESS_TEMPERATURE', 'ROTATIONAL_SPEED', 'TOOL_WEAR', 'TORQUE']);
    assert.equal(fields[0], 'TORQUE');
    assert.ok(explanation.drivers[0].effect > 0, 'raising torque to its reference lowers the failure probability');
    assert.equal(explanation.drivers[0].value, 18);
    assert.ok(Math.abs(explanation.power - (18 * 1500 * 2 * Math.PI) / 60) < 1e-6);
    const after: RateLimitQuery = await execute(server.url, RateLimitDocument);
    assert.equal(after.rateLimit.rowsUsed, before.rateLimit.rowsUsed + 6);
  });

  it('explainBatch: one explanation per reading, in input order', async () => {
    const inputs: SensorReadingInput[] = [
      READING,
      { ...READING, torque: 18 },
      { ...READING, toolWear: 220, torque: 60, rotationalSpeed: 1400 },
    ];
    const data: ExplainBatchMutation = await execute(server.url, ExplainBatchDocument, { inputs });
    assert.deepEqual(
      data.predictBatch.map((p) => p.explanation.drivers.find((d) => d.field === 'TORQUE')?.value),
      [40, 18, 60],
    );
    assert.equal(data.predictBatch[2].explanation.strain, 220 * 60);
  });

  it('outOfRange in every prediction: empty inside the envelope, Celsius temperatures named with their range', async () => {
    const inside: PredictMutation = await execute(server.url, PredictDocument, { input: READING });
    assert.deepEqual(inside.predict.outOfRange, []);
    const celsius: PredictMutation = await execute(server.url, PredictDocument, {
      input: { ...READING, airTemperature: 25, processTemperature: 35 },
    });
    const fields: ReadingField[] = celsius.predict.outOfRange.map((o) => o.field);
    assert.deepEqual(fields, ['AIR_TEMPERATURE', 'PROCESS_TEMPERATURE']);
    for (const o of celsius.predict.outOfRange) assert.ok(o.value < o.trainingMin && o.trainingMin < o.trainingMax);
  });

  it('errors: BAD_USER_INPUT with violations surfaces as GraphQLRequestError', async () => {
    const inputs: SensorReadingInput[] = [READING, { ...READING, torque: -1 }];
    await assert.rejects(execute(server.url, PredictBatchDocument, { inputs }), (err: unknown) => {
      assert.ok(err instanceof GraphQLRequestError);
      assert.equal(err.code, 'BAD_USER_INPUT');
      const violations = err.errors[0].extensions?.violations ?? [];
      assert.deepEqual(
        violations.map((v) => [v.row, v.field, v.constraint]),
        [[1, 'torque', 'min']],
      );
      return true;
    });
  });

  it('the committed schema.graphql is the schema the server serves (introspection)', async () => {
    const document = parse(getIntrospectionQuery()) as TypedDocumentNode<IntrospectionQuery, Record<string, never>>;
    const introspection = await execute(server.url, document);
    const served = printSchema(lexicographicSortSchema(buildClientSchema(introspection)));
    const committed = printSchema(lexicographicSortSchema(buildSchema(readFileSync(path.resolve('schema.graphql'), 'utf8'))));
    assert.equal(served, committed, 'schema.graphql is stale: run `npm run codegen` and commit the result');
  });
});
