/**
 * graphql-jit (the default executor) and graphql-js must answer every request byte-identically (status
 * and body; stack traces and uptime aside): successes, validation and variable errors, parse errors,
 * fragments, directives and introspection. Two in-process servers differ only in GRAPHQL_EXECUTOR.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PREDICT_BATCH_QUERY, PREDICT_QUERY, readings } from '../bench/lib/requests';
import { NORMAL_READING, startServer, type TestServer } from './helpers/server';

const cases: Array<[string, string, Record<string, unknown>?]> = [
  ['predict', PREDICT_QUERY, { input: NORMAL_READING }],
  ['predictBatch 50', PREDICT_BATCH_QUERY, { inputs: readings(50) }],
  ['predict invalid reading', PREDICT_QUERY, { input: { ...NORMAL_READING, torque: -1, airTemperature: 0 } }],
  ['predictBatch invalid rows', PREDICT_BATCH_QUERY, { inputs: [NORMAL_READING, { ...NORMAL_READING, toolWear: 1e9 }] }],
  ['predictBatch empty', PREDICT_BATCH_QUERY, { inputs: [] }],
  ['predictBatch too many', PREDICT_BATCH_QUERY, { inputs: readings(1001) }],
  ['variable of wrong type', PREDICT_QUERY, { input: { ...NORMAL_READING, torque: 'x' } }],
  ['variable missing field', PREDICT_QUERY, { input: { torque: 1 } }],
  ['variable bad enum', PREDICT_QUERY, { input: { ...NORMAL_READING, productType: 'Z' } }],
  ['variable missing', PREDICT_QUERY, {}],
  [
    'inline literal',
    `mutation { predict(input: { airTemperature: 300, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 5, productType: M }) { label probabilities { label } } }`,
  ],
  [
    'aliases and fragments',
    `mutation { a: predict(input: { airTemperature: 300, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 5, productType: H }) { ...P } b: predict(input: { airTemperature: 301, processTemperature: 311, rotationalSpeed: 1400, torque: 50, toolWear: 200, productType: L }) { ...P __typename } } fragment P on Prediction { label isAnomaly }`,
  ],
  ['health', '{ health { status modelLoaded device serverVersion modelVersion } }'],
  [
    'modelInfo',
    '{ modelInfo { name version inputs { field unit trainingMin } failureTypes { failureType label } anomalyThreshold batching { maxBatchSize maxBatchRows } } }',
  ],
  ['rateLimit', '{ rateLimit { __typename enabled } }'],
  ['unknown field', '{ nope }'],
  ['syntax error', '{ health { '],
  ['skip/include', 'query Q($s: Boolean!) { health { status @skip(if: $s) modelLoaded @include(if: $s) } }', { s: true }],
  ['introspection', '{ __schema { queryType { name } } __type(name: "Prediction") { fields { name } } }'],
];

describe('graphql-jit executor parity with graphql-js', () => {
  const servers: TestServer[] = [];
  before(async () => {
    for (const executor of ['graphql-js', 'jit']) {
      servers.push(await startServer({ GRAPHQL_EXECUTOR: executor, INTROSPECTION: 'true', RATE_LIMIT_ENABLED: 'false' }));
    }
  });
  after(async () => {
    for (const s of servers) await s.close();
  });
  const strip = (body: unknown) => JSON.stringify(body, (k, v) => (k === 'stacktrace' ? undefined : k === 'uptimeSeconds' ? 0 : v));

  for (const [name, query, variables] of cases) {
    it(name, async () => {
      const [js, jit] = await Promise.all(servers.map((s) => s.gql(query, variables)));
      assert.equal(jit.status, js.status, 'HTTP status');
      assert.equal(strip(jit.body), strip(js.body));
    });
  }
});
