// Every metric label comes from a bounded, server-side set (issue 25): a client sends aliases, operation
// names, odd field names, fragments, parse errors, unknown fields and refused calls, and /metrics then
// holds no label value outside the sets the server defines, and none of the strings the client chose.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { buildSchema } from 'graphql';
import { ErrorCode } from '../src/errors';
import { MAX_BINS } from '../src/inference/drift';
import { NUMERIC_FIELDS } from '../src/inference/explanation';
import { FAILURE_TYPES } from '../src/inference/model-io';
import { SHADOW_DROP_REASONS } from '../src/inference/shadow-scorer';
import { OTHER_ROOT_FIELD, RATE_LIMIT_BUDGETS } from '../src/observability/metrics';
import { rootFieldNames } from '../src/observability/metrics.plugin';
import { parseMetrics, scrape } from './helpers/metrics';
import { NORMAL_READING, startServer, type TestServer } from './helpers/server';

/** Strings only a client chose: none may show up in a label value. */
const CHOSEN = ['zz_alias', 'ZzOperation', 'zz_unknown_field', 'zz\u00e9t\u00e9', 'zz_fragment', 'zz_variable', 'zz_typename_alias'];

/** Documents a client may send: aliases, names, unknown and odd fields, fragments, broken syntax. */
const DOCUMENTS: Array<{ query: string; variables?: Record<string, unknown> }> = [
  { query: '{ zz_alias: health { status } }' },
  { query: 'query ZzOperation { health { status } }' },
  { query: 'query ZzOperation { zz_alias: modelInfo { version } }' },
  { query: '{ zz_unknown_field }' },
  { query: '{ health { zz_unknown_field } }' },
  { query: '{ zz_typename_alias: __typename }' },
  { query: '{ __typename health { status } }' },
  { query: '{ ...zz_fragment } fragment zz_fragment on Query { health { status } }' },
  { query: '{ ... on Query { zz_alias: health { status } } }' },
  { query: '{ __schema { queryType { name } } }' },
  { query: '{ zz\u00e9t\u00e9 }' },
  { query: '{ health { status } ' },
  { query: 'query ZzOperation($zz_variable: Int) { health { status } }', variables: { zz_variable: 'not an int' } },
  {
    query: 'mutation ZzOperation($input: SensorReadingInput!) { zz_alias: predict(input: $input) { predictedFailureType } }',
    variables: { input: NORMAL_READING },
  },
  {
    query: 'mutation ZzOperation($input: SensorReadingInput!) { predict(input: $input) { predictedFailureType } }',
    variables: { input: { ...NORMAL_READING, zz_unknown_field: 1 } },
  },
  { query: 'mutation { zz_alias: predictBatch(inputs: []) { modelVersion } }' },
  { query: 'subscription ZzOperation { health { status } }' },
  { query: '' },
];

describe('metric labels: every value from a bounded server-side set', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ RATE_LIMIT_MAX: '12', RATE_LIMIT_ROWS_MAX: '4', LOG_LEVEL: 'silent' });
  });
  after(() => s.close());

  it('holds after aliases, operation names, odd fields, fragments, parse errors and refusals', async () => {
    const rounds = 2; // the second round runs into the rate limit
    for (let r = 0; r < rounds; r++) {
      for (const doc of DOCUMENTS) await s.gql(doc.query, doc.variables);
    }
    // A batch past the row budget, a GET with an operation name, a body that is not GraphQL.
    await s.gql('mutation ZzOperation($i: [SensorReadingInput!]!) { predictBatch(inputs: $i) { modelVersion } }', {
      i: Array.from({ length: 8 }, () => NORMAL_READING),
    });
    await fetch(`${s.url}?query=${encodeURIComponent('query ZzOperation { zz_alias: health { status } }')}&operationName=ZzOperation`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": "{ zz_alias: health' });

    const schema = buildSchema(readFileSync('schema.graphql', 'utf8'));
    const bins = Array.from({ length: MAX_BINS }, (_, i) => String(i));
    const allowed: Record<string, ReadonlySet<string>> = {
      root_field: new Set([...rootFieldNames(schema), OTHER_ROOT_FIELD]),
      outcome: new Set(['ok', 'refused', ...Object.values(ErrorCode)]),
      budget: new Set(RATE_LIMIT_BUDGETS),
      reason: new Set(['disconnected', 'deadline', 'queue_full', 'export_failed', ...SHADOW_DROP_REASONS]),
      role: new Set(['primary', 'shadow']),
      device: new Set(['cpu', 'cuda']),
      version: new Set([s.models.service().manifest.version]),
      field: new Set(NUMERIC_FIELDS),
      bin: new Set(bins),
      failure_type: new Set(FAILURE_TYPES),
      primary: new Set(FAILURE_TYPES),
      shadow: new Set(FAILURE_TYPES),
    };
    const text = await scrape(s.origin);
    const { samples } = parseMetrics(text);
    const ours = samples.filter((x) => x.name.startsWith('pm_'));
    assert.ok(ours.length > 50, `${ours.length} pm_ samples`);
    for (const sample of ours) {
      for (const [label, value] of Object.entries(sample.labels)) {
        if (label === 'le') {
          assert.ok(value === '+Inf' || Number.isFinite(Number(value)), `${sample.name} le="${value}"`);
          continue;
        }
        assert.ok(allowed[label], `${sample.name}: label ${label} has no bounded set`);
        assert.ok(allowed[label].has(value), `${sample.name}{${label}="${value}"}: not in the server's set`);
      }
    }
    for (const chosen of CHOSEN) assert.ok(!text.includes(chosen), `/metrics holds the client's "${chosen}"`);

    // What was sent shows up under the server's own names.
    const ops = ours.filter((x) => x.name === 'pm_graphql_operations_total');
    const fields = new Set(ops.filter((x) => x.value > 0).map((x) => x.labels.root_field));
    for (const name of ['health', 'modelInfo', 'predict', 'predictBatch', OTHER_ROOT_FIELD])
      assert.ok(fields.has(name), `no operations counted for ${name}`);
    const outcomes = new Set(ops.filter((x) => x.value > 0).map((x) => x.labels.outcome));
    for (const code of ['ok', 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'RATE_LIMITED']) {
      assert.ok(outcomes.has(code), `no operation counted with outcome ${code} (${[...outcomes].join(', ')})`);
    }
    // Bounded series: at most one per root field and outcome.
    assert.ok(ops.length <= allowed.root_field.size * allowed.outcome.size);
  });
});
