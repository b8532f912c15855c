import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { metricValue, parseMetrics, scrape } from './helpers/metrics';
import { NORMAL_READING, startServer, type TestServer } from './helpers/server';

const PREDICT = 'mutation P($input: SensorReadingInput!) { predict(input: $input) { modelVersion } }';
const BATCH = 'mutation B($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { modelVersion } }';
const KEY = 'metrics-test-key';
const AUTH = { 'x-api-key': KEY };
/** Another client, with budget of its own. */
const OTHER = { 'x-api-key': `${KEY}-2` };
const sha = (k: string) => createHash('sha256').update(k).digest('hex');

describe('GET /metrics', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({
      API_KEYS: `${sha(KEY)},${sha(OTHER['x-api-key'])}`,
      RATE_LIMIT_MAX: '4',
      RATE_LIMIT_ROWS_MAX: '8',
    });
  });
  after(() => s.close());

  it('serves Prometheus text without an API key, with exactly the documented names and types', async () => {
    const res = await fetch(`${s.origin}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const { types, samples } = parseMetrics(await res.text());
    const expected: Record<string, string> = {
      pm_graphql_operations_total: 'counter',
      pm_graphql_operation_duration_seconds: 'histogram',
      pm_inference_runs_total: 'counter',
      pm_inference_rows_total: 'counter',
      pm_inference_batch_rows: 'histogram',
      pm_inference_run_duration_seconds: 'histogram',
      pm_inference_queue_rows: 'gauge',
      pm_http_large_body_bytes: 'gauge',
      pm_http_large_body_refusals_total: 'counter',
      pm_inference_queue_wait_seconds: 'histogram',
      pm_rate_limit_refusals_total: 'counter',
      pm_model_info: 'gauge',
      pm_model_reloads_total: 'counter',
      pm_inference_dropped_rows_total: 'counter',
      pm_input_drift_psi: 'gauge',
      pm_input_bin_rows_total: 'counter',
      pm_input_window_rows: 'gauge',
      pm_input_bin_reference_ratio: 'gauge',
      pm_input_window_anomalies: 'gauge',
      pm_input_window_failure_types: 'gauge',
      pm_predicted_failure_types_total: 'counter',
      pm_anomalies_total: 'counter',
      pm_shadow_rows_total: 'counter',
      pm_shadow_disagreements_total: 'counter',
      pm_shadow_dropped_rows_total: 'counter',
      pm_trace_spans_dropped_total: 'counter',
    };
    for (const [name, type] of Object.entries(expected)) assert.equal(types.get(name), type, name);
    assert.deepEqual([...types.keys()].filter((n) => n.startsWith('pm_')).sort(), Object.keys(expected).sort());
    assert.equal(types.get('process_cpu_user_seconds_total'), 'counter', 'Node process metrics are collected');
    const info = samples.filter((x) => x.name === 'pm_model_info');
    assert.deepEqual(info, [
      { name: 'pm_model_info', labels: { version: s.models.service().manifest.version, device: 'cpu', role: 'primary' }, value: 1 },
    ]);
    for (const budget of ['operations', 'rows', 'requests']) {
      assert.ok(
        samples.some((x) => x.name === 'pm_rate_limit_refusals_total' && x.labels.budget === budget),
        budget,
      );
    }
  });

  it('moves by exactly what a test sent: operations by root field and outcome, rows, runs, refusals', async () => {
    const before = await scrape(s.origin);
    const ok = (r: { body: { errors?: unknown } }) => assert.equal(r.body.errors, undefined);
    ok(await s.gql(PREDICT, { input: NORMAL_READING }, AUTH));
    ok(await s.gql(PREDICT, { input: NORMAL_READING }, AUTH));
    ok(await s.gql(BATCH, { inputs: Array.from({ length: 5 }, () => NORMAL_READING) }, AUTH));
    // 7 of 8 rows spent: a 5-row batch breaks the rows budget; then a 4th operation fits, a 5th does not.
    const rows = await s.gql(BATCH, { inputs: Array.from({ length: 5 }, () => NORMAL_READING) }, AUTH);
    assert.equal(rows.body.errors?.[0].extensions?.budget, 'rows');
    ok(await s.gql(PREDICT, { input: NORMAL_READING }, AUTH));
    const ops = await s.gql(PREDICT, { input: NORMAL_READING }, AUTH);
    assert.equal(ops.body.errors?.[0].extensions?.budget, 'operations');
    const invalid = await s.gql(PREDICT, { input: { ...NORMAL_READING, torque: -1 } }, OTHER);
    assert.equal(invalid.body.errors?.[0].extensions?.code, 'BAD_USER_INPUT');
    ok(await s.gql('query ClientChosenName { health { status } }', undefined, AUTH));
    assert.equal((await s.gql('{ health { ', undefined, AUTH)).status, 400);
    const after = await scrape(s.origin);

    const delta = (name: string, labels: Record<string, string> = {}) =>
      metricValue(after, name, labels) - metricValue(before, name, labels);
    assert.equal(delta('pm_graphql_operations_total', { root_field: 'predict', outcome: 'ok' }), 3);
    assert.equal(delta('pm_graphql_operations_total', { root_field: 'predictBatch', outcome: 'ok' }), 1);
    assert.equal(delta('pm_graphql_operations_total', { root_field: 'predictBatch', outcome: 'RATE_LIMITED' }), 1);
    assert.equal(delta('pm_graphql_operations_total', { root_field: 'predict', outcome: 'RATE_LIMITED' }), 1);
    assert.equal(delta('pm_graphql_operations_total', { root_field: 'predict', outcome: 'BAD_USER_INPUT' }), 1);
    assert.equal(delta('pm_graphql_operations_total', { root_field: 'health', outcome: 'ok' }), 1);
    assert.equal(delta('pm_graphql_operations_total', { root_field: 'other', outcome: 'GRAPHQL_PARSE_FAILED' }), 1);
    assert.equal(delta('pm_graphql_operations_total'), 9);
    assert.equal(delta('pm_graphql_operation_duration_seconds_count', { root_field: 'predict' }), 5);
    assert.equal(delta('pm_rate_limit_refusals_total', { budget: 'rows' }), 1);
    assert.equal(delta('pm_rate_limit_refusals_total', { budget: 'operations' }), 1);
    assert.equal(delta('pm_inference_rows_total'), 8, '3 single rows and one 5-row batch were scored');
    assert.equal(delta('pm_inference_queue_wait_seconds_count'), 8, 'one wait per row');
    assert.equal(delta('pm_inference_batch_rows_sum'), 8);
    assert.equal(delta('pm_inference_batch_rows_count'), delta('pm_inference_runs_total'));
    assert.equal(delta('pm_inference_run_duration_seconds_count'), delta('pm_inference_runs_total'));
    assert.ok(delta('pm_inference_runs_total') >= 1 && delta('pm_inference_runs_total') <= 4);
    assert.equal(metricValue(after, 'pm_inference_queue_rows'), 0);
    assert.doesNotMatch(after, /ClientChosenName/, 'operation names are never label values');
  });

  it('spends no rate-limit budget', async () => {
    const fresh = await startServer({ RATE_LIMIT_MAX: '1' });
    try {
      for (let i = 0; i < 3; i++) await scrape(fresh.origin);
      const { body } = await fresh.gql('{ rateLimit { used } }');
      assert.equal(body.data.rateLimit.used, 0);
      assert.equal((await fresh.gql(PREDICT, { input: NORMAL_READING })).body.errors, undefined);
    } finally {
      await fresh.close();
    }
  });

  it('counts refusals of the per-request budget (checked at the edge), which scrapes do not spend', async () => {
    const small = await startServer({ REQUEST_LIMIT_MAX: '2' });
    try {
      for (let i = 0; i < 5; i++) await scrape(small.origin);
      assert.equal((await small.gql('{ health { status } }')).status, 200);
      assert.equal((await small.gql('{ health { status } }')).status, 200);
      const refused = await small.gql('{ health { status } }');
      assert.equal(refused.status, 429);
      assert.equal(refused.body.errors?.[0].extensions?.budget, 'requests');
      assert.equal(metricValue(await scrape(small.origin), 'pm_rate_limit_refusals_total', { budget: 'requests' }), 1);
    } finally {
      await small.close();
    }
  });

  it('is not served with METRICS_ENABLED=false, nor on the API port when METRICS_PORT names another', async () => {
    for (const env of [{ METRICS_ENABLED: 'false' }, { METRICS_PORT: '1' }] as Array<Record<string, string>>) {
      const other = await startServer(env);
      try {
        const res = await fetch(`${other.origin}/metrics`);
        assert.equal(res.status, 404, JSON.stringify(env));
        assert.equal((await other.gql(PREDICT, { input: NORMAL_READING })).body.errors, undefined);
      } finally {
        await other.close();
      }
    }
  });
});
