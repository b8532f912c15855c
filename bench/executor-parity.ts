/**
 * graphql-jit vs graphql-js: the same requests against two in-process servers that differ only in
 * GRAPHQL_EXECUTOR must get byte-identical answers (status and body; stack traces aside), for
 * successes and for every kind of error. `npm run bench:parity` (MODEL_DIR as for the tests).
 */
import assert from 'node:assert/strict';
import { startServer, NORMAL_READING, type TestServer } from '../test/helpers/server';
import { PREDICT_BATCH_QUERY, PREDICT_QUERY, readings } from './common';

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
  ['inline literal', `mutation { predict(input: { airTemperature: 300, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 5, productType: M }) { label probabilities { label } } }`],
  ['aliases and fragments', `mutation { a: predict(input: { airTemperature: 300, processTemperature: 310, rotationalSpeed: 1500, torque: 40, toolWear: 5, productType: H }) { ...P } b: predict(input: { airTemperature: 301, processTemperature: 311, rotationalSpeed: 1400, torque: 50, toolWear: 200, productType: L }) { ...P __typename } } fragment P on Prediction { label isAnomaly }`],
  ['health', '{ health { status modelLoaded device serverVersion modelVersion } }'],
  ['modelInfo', '{ modelInfo { name version inputs { field unit trainingMin } failureTypes { failureType label } anomalyThreshold batching { maxBatchSize maxBatchRows } } }'],
  ['rateLimit', '{ rateLimit { __typename } }'],
  ['unknown field', '{ nope }'],
  ['syntax error', '{ health { '],
  ['skip/include', 'query Q($s: Boolean!) { health { status @skip(if: $s) modelLoaded @include(if: $s) } }', { s: true }],
  ['introspection', '{ __schema { queryType { name } } __type(name: "Prediction") { fields { name } } }'],
];

async function main(): Promise<void> {
  const servers: TestServer[] = [];
  try {
    for (const executor of ['graphql-js', 'jit']) servers.push(await startServer({ GRAPHQL_EXECUTOR: executor, INTROSPECTION: 'true' }));
    const strip = (body: any) =>
      JSON.stringify(body, (k, v) => (k === 'stacktrace' ? undefined : k === 'uptimeSeconds' ? 0 : v));
    let failed = 0;
    for (const [name, query, variables] of cases) {
      const [a, b] = await Promise.all(servers.map((s) => s.gql(query, variables)));
      try {
        assert.equal(b.status, a.status, 'status');
        assert.equal(strip(b.body), strip(a.body), 'body');
        console.log(`ok   ${name} (HTTP ${a.status}${a.body.errors ? `, ${a.body.errors.map((e: any) => e.extensions?.code).join(',')}` : ''})`);
      } catch (err) {
        failed++;
        console.log(`FAIL ${name}: ${(err as Error).message}\n  graphql-js: ${a.status} ${strip(a.body).slice(0, 600)}\n  jit:        ${b.status} ${strip(b.body).slice(0, 600)}`);
      }
    }
    if (failed > 0) process.exitCode = 1;
  } finally {
    for (const s of servers) await s.close();
  }
}

void main();
