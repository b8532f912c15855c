// The metrics registry and the GraphQL metrics plugin without a server (issue 25): every series the
// registry starts with and every label value it can be given come from server-side sets; the hooks move
// exactly the series they name. test/metrics.test.ts checks the same through a running server, and
// test/metrics.labels.test.ts sends hostile documents to one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSchema, Kind, parse, type OperationDefinitionNode } from 'graphql';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { ErrorCode } from '../src/errors';
import { DriftMonitor } from '../src/inference/drift';
import type { InferenceService } from '../src/inference/inference.service';
import type { ShadowScorer } from '../src/inference/shadow-scorer';
import { Metrics, OTHER_ROOT_FIELD, outcomeLabel, RATE_LIMIT_BUDGETS } from '../src/observability/metrics';
import { metricsPlugin, rootFieldNames, rootFieldOf } from '../src/observability/metrics.plugin';
import { testDriftReference } from './helpers/drift';
import { metricValue, parseMetrics } from './helpers/metrics';
import { NORMAL_READING } from './helpers/readings';

const text = async (m: Metrics) => (await m.metricsText()).body;
const service = (version: string, device = 'cpu') => ({ manifest: { version }, device }) as unknown as InferenceService;

describe('outcomeLabel', () => {
  it('answers ok, a catalogued code, or INTERNAL_SERVER_ERROR for anything else', () => {
    assert.equal(outcomeLabel(undefined), 'ok');
    for (const code of Object.values(ErrorCode)) assert.equal(outcomeLabel(code), code);
    for (const odd of ['zz_client_code', '', 'ok', 'bad_user_input', null, 42, { code: 'BAD_USER_INPUT' }, ['BAD_USER_INPUT']]) {
      assert.equal(outcomeLabel(odd), ErrorCode.INTERNAL_SERVER_ERROR, JSON.stringify(odd));
    }
  });
});

describe('Metrics', () => {
  it('starts every known label value at 0, and no others; default metrics only when asked', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const { samples, types } = parseMetrics(await text(m));
    const zeros = (name: string, label: string) =>
      samples
        .filter((s) => s.name === name)
        .map((s) => {
          assert.equal(s.value, 0, `${name}{${label}="${s.labels[label]}"}`);
          return s.labels[label];
        })
        .sort();
    assert.deepEqual(zeros('pm_rate_limit_refusals_total', 'budget'), ['operations', 'requests', 'rows']);
    assert.deepEqual([...RATE_LIMIT_BUDGETS].sort(), ['operations', 'requests', 'rows']);
    assert.deepEqual(zeros('pm_inference_dropped_rows_total', 'reason'), ['deadline', 'disconnected']);
    assert.deepEqual(zeros('pm_model_reloads_total', 'outcome'), ['ok', 'refused']);
    assert.deepEqual(zeros('pm_shadow_dropped_rows_total', 'reason'), ['deadline', 'failed', 'queue_full', 'withdrawn']);
    assert.deepEqual(zeros('pm_trace_spans_dropped_total', 'reason'), ['export_failed', 'queue_full']);
    assert.equal(samples.filter((s) => s.name === 'pm_graphql_operations_total').length, 0);
    assert.ok(![...types.keys()].some((n) => n.startsWith('process_') || n.startsWith('nodejs_')));
    const withDefaults = parseMetrics(await text(new Metrics())).types;
    assert.ok(withDefaults.has('process_cpu_user_seconds_total'));
    assert.ok(withDefaults.has('nodejs_eventloop_lag_seconds'));
    const types2 = Object.fromEntries(types);
    assert.equal(types2.pm_graphql_operations_total, 'counter');
    assert.equal(types2.pm_graphql_operation_duration_seconds, 'histogram');
    assert.equal(types2.pm_inference_queue_rows, 'gauge');
    assert.equal(types2.pm_http_large_body_bytes, 'gauge');
    assert.equal(types2.pm_model_info, 'gauge');
  });

  it('records operations by root field and outcome, with their duration', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.recordOperation('predict', 'ok', 0.003);
    m.recordOperation('predict', 'ok', 0.2);
    m.recordOperation('health', 'BAD_USER_INPUT', 0.0001);
    const t = await text(m);
    assert.equal(metricValue(t, 'pm_graphql_operations_total', { root_field: 'predict', outcome: 'ok' }), 2);
    assert.equal(metricValue(t, 'pm_graphql_operations_total', { root_field: 'health', outcome: 'BAD_USER_INPUT' }), 1);
    assert.equal(metricValue(t, 'pm_graphql_operation_duration_seconds_count', { root_field: 'predict' }), 2);
    assert.equal(metricValue(t, 'pm_graphql_operation_duration_seconds_bucket', { root_field: 'predict', le: '0.005' }), 1);
    assert.equal(metricValue(t, 'pm_graphql_operation_duration_seconds_bucket', { root_field: 'predict', le: '0.25' }), 2);
    assert.ok(Math.abs(metricValue(t, 'pm_graphql_operation_duration_seconds_sum', { root_field: 'predict' }) - 0.203) < 1e-9);
  });

  it('inference hooks move runs, rows, batch sizes, durations, queue, waits and drops', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const hooks = m.inferenceHooks();
    hooks.onRun!(3, 0.002, true);
    hooks.onRun!(5, 0.02, true);
    hooks.onQueueWait!(0.004, 3);
    hooks.onQueueChange!(7);
    hooks.onQueueChange!(-2);
    hooks.onDrop!('deadline', 4);
    hooks.onDrop!('disconnected', 1);
    const t = await text(m);
    assert.equal(metricValue(t, 'pm_inference_runs_total'), 2);
    assert.equal(metricValue(t, 'pm_inference_rows_total'), 8);
    assert.equal(metricValue(t, 'pm_inference_batch_rows_count'), 2);
    assert.equal(metricValue(t, 'pm_inference_batch_rows_sum'), 8);
    assert.equal(metricValue(t, 'pm_inference_batch_rows_bucket', { le: '4' }), 1);
    assert.equal(metricValue(t, 'pm_inference_run_duration_seconds_count'), 2);
    assert.equal(metricValue(t, 'pm_inference_run_duration_seconds_bucket', { le: '0.0025' }), 1);
    assert.equal(metricValue(t, 'pm_inference_queue_wait_seconds_count'), 3, 'one wait per row');
    assert.equal(metricValue(t, 'pm_inference_queue_wait_seconds_bucket', { le: '0.005' }), 3);
    assert.equal(metricValue(t, 'pm_inference_queue_rows'), 5);
    assert.equal(metricValue(t, 'pm_inference_dropped_rows_total', { reason: 'deadline' }), 4);
    assert.equal(metricValue(t, 'pm_inference_dropped_rows_total', { reason: 'disconnected' }), 1);
  });

  it('the model observer reports the models served by role, reloads, and the shadow comparison', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const observer = m.modelObserver();
    observer.inference!.onRun!(2, 0.001, true);
    observer.serving!(service('1.0.0'));
    let t = await text(m);
    assert.equal(metricValue(t, 'pm_inference_rows_total'), 2);
    assert.deepEqual(
      parseMetrics(t)
        .samples.filter((s) => s.name === 'pm_model_info')
        .map((s) => [s.labels, s.value]),
      [[{ version: '1.0.0', device: 'cpu', role: 'primary' }, 1]],
    );
    observer.shadow!({ service: service('2.0.0', 'cuda') } as unknown as ShadowScorer);
    observer.serving!(service('1.1.0'));
    t = await text(m);
    assert.deepEqual(
      parseMetrics(t)
        .samples.filter((s) => s.name === 'pm_model_info')
        .map((s) => [s.labels, s.value]),
      [
        [{ version: '1.1.0', device: 'cpu', role: 'primary' }, 1],
        [{ version: '2.0.0', device: 'cuda', role: 'shadow' }, 1],
      ],
    );
    observer.shadow!(undefined);
    t = await text(m);
    assert.equal(parseMetrics(t).samples.filter((s) => s.name === 'pm_model_info').length, 1);
    observer.reloaded!('ok');
    observer.reloaded!('refused');
    observer.reloaded!('refused');
    observer.shadowHooks!.onCompared!(10, [
      ['NO_FAILURE', 'POWER_FAILURE', 2],
      ['TOOL_WEAR_FAILURE', 'NO_FAILURE', 1],
    ]);
    observer.shadowHooks!.onCompared!(4, [['NO_FAILURE', 'POWER_FAILURE', 1]]);
    observer.shadowHooks!.onDrop!('queue_full', 6);
    t = await text(m);
    assert.equal(metricValue(t, 'pm_model_reloads_total', { outcome: 'ok' }), 1);
    assert.equal(metricValue(t, 'pm_model_reloads_total', { outcome: 'refused' }), 2);
    assert.equal(metricValue(t, 'pm_shadow_rows_total'), 14);
    assert.equal(metricValue(t, 'pm_shadow_disagreements_total', { primary: 'NO_FAILURE', shadow: 'POWER_FAILURE' }), 3);
    assert.equal(metricValue(t, 'pm_shadow_disagreements_total', { primary: 'TOOL_WEAR_FAILURE', shadow: 'NO_FAILURE' }), 1);
    assert.equal(metricValue(t, 'pm_shadow_dropped_rows_total', { reason: 'queue_full' }), 6);
  });

  it('large bodies, rate-limit refusals, and an aggregate that replaces the local text', async () => {
    const m = new Metrics({ defaultMetrics: false });
    let bytes = 0;
    m.watchLargeBodies(() => bytes);
    bytes = 70_000;
    m.rateLimitRefused('rows');
    m.rateLimitRefused('rows');
    m.largeBodyRefusals.inc();
    const local = await m.metricsText();
    assert.equal(local.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(metricValue(local.body, 'pm_http_large_body_bytes'), 70_000);
    assert.equal(metricValue(local.body, 'pm_rate_limit_refusals_total', { budget: 'rows' }), 2);
    assert.equal(metricValue(local.body, 'pm_rate_limit_refusals_total', { budget: 'operations' }), 0);
    assert.equal(metricValue(local.body, 'pm_http_large_body_refusals_total'), 1);
    m.useAggregate(() => Promise.resolve('pm_cluster 1\n'));
    assert.deepEqual(await m.metricsText(), { contentType: local.contentType, body: 'pm_cluster 1\n' });
  });

  it('reads the drift series from the monitor it watches', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const monitor = new DriftMonitor({
      enabled: true,
      windowRows: 100,
      maxAgeMs: 60_000,
      minRows: 10,
      psiModerate: 0.1,
      psiSignificant: 0.25,
    });
    monitor.useReference(testDriftReference());
    monitor.record([{ reading: NORMAL_READING, predictedFailureType: 'NO_FAILURE', isAnomaly: true }]);
    assert.equal(metricValue(await text(m), 'pm_input_window_rows', { field: 'torque' }), 0, 'nothing before it watches');
    m.watchDrift(monitor);
    const t = await text(m);
    assert.equal(metricValue(t, 'pm_input_window_rows', { field: 'torque' }), 1);
    assert.equal(metricValue(t, 'pm_input_window_anomalies'), 1);
  });

  it('summed over cluster workers, each model served reads 1, not the number of workers', async () => {
    const workers = [1, 2, 3].map(() => {
      const m = new Metrics({ defaultMetrics: false });
      m.modelObserver().serving!(service('1.0.0'));
      return m;
    });
    const json = await Promise.all(workers.map((w) => (w.registry as Registry).getMetricsAsJSON()));
    const t = await AggregatorRegistry.aggregate(json).metrics();
    assert.equal(metricValue(t, 'pm_model_info', { version: '1.0.0', role: 'primary' }), 1);
  });
});

describe('metrics plugin: root fields and outcomes', () => {
  const schema = buildSchema('type Query { health: Int modelInfo: Int } type Mutation { predict: Int } type Subscription { ticks: Int }');
  const operation = (doc: string) => parse(doc).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;

  it('knows every root field of the schema, and counts a client-chosen alias, name or fragment as other', () => {
    const known = rootFieldNames(schema);
    assert.deepEqual([...known].sort(), ['health', 'modelInfo', 'predict', 'ticks']);
    assert.deepEqual([...rootFieldNames(buildSchema('type Query { a: Int }'))], ['a']);
    assert.equal(rootFieldOf(operation('{ zz: health }'), known), 'health');
    assert.equal(rootFieldOf(operation('query ZzName { modelInfo health }'), known), 'modelInfo');
    assert.equal(rootFieldOf(operation('mutation { predict }'), known), 'predict');
    assert.equal(rootFieldOf(operation('{ zz_unknown }'), known), OTHER_ROOT_FIELD);
    assert.equal(rootFieldOf(operation('{ __typename }'), known), OTHER_ROOT_FIELD);
    assert.equal(rootFieldOf(operation('{ ...F } fragment F on Query { health }'), known), OTHER_ROOT_FIELD);
    assert.equal(rootFieldOf(operation('{ ... on Query { health } }'), known), OTHER_ROOT_FIELD);
    assert.equal(rootFieldOf(undefined, known), OTHER_ROOT_FIELD);
  });

  it('records each response once: its root field, the first error code bounded, and rate-limit budgets', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const plugin = metricsPlugin(m, schema);
    const respond = async (doc: string | undefined, errors?: Array<{ extensions?: Record<string, unknown> }>, kind = 'single') => {
      const hooks = (await plugin.requestDidStart!({} as never))!;
      if (doc !== undefined) await hooks.didResolveOperation!({ operation: operation(doc) } as never);
      await hooks.willSendResponse!({ response: { body: { kind, singleResult: { errors } } } } as never);
    };
    await respond('{ health }');
    await respond('{ zz: health }', []);
    await respond(undefined, [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }]);
    await respond('mutation { predict }', [{ extensions: { code: 'zz_client_code' } }]);
    await respond('mutation { predict }', [{}]);
    await respond('mutation { predict }', [
      { extensions: { code: 'RATE_LIMITED', budget: 'rows' } },
      { extensions: { code: 'RATE_LIMITED', budget: 'zz_budget' } },
      { extensions: { code: 'RATE_LIMITED', budget: 7 } },
      { extensions: { code: 'BAD_USER_INPUT', budget: 'operations' } },
      { extensions: { code: 'RATE_LIMITED', budget: 'operations' } },
    ]);
    await respond('{ modelInfo }', [{ extensions: { code: 'BAD_USER_INPUT' } }], 'incremental');
    const t = await text(m);
    const ops = parseMetrics(t).samples.filter((s) => s.name === 'pm_graphql_operations_total');
    assert.deepEqual(ops.map((s) => `${s.labels.root_field} ${s.labels.outcome} ${s.value}`).sort(), [
      'health ok 2',
      'modelInfo ok 1',
      'other GRAPHQL_PARSE_FAILED 1',
      'predict INTERNAL_SERVER_ERROR 2',
      'predict RATE_LIMITED 1',
    ]);
    assert.equal(metricValue(t, 'pm_rate_limit_refusals_total', { budget: 'rows' }), 1);
    assert.equal(metricValue(t, 'pm_rate_limit_refusals_total', { budget: 'operations' }), 1);
    assert.equal(metricValue(t, 'pm_rate_limit_refusals_total', { budget: 'requests' }), 0);
    assert.ok(!t.includes('zz_'));
  });

  it('times each operation from requestDidStart to willSendResponse, in seconds', async (t) => {
    let now = 1_000;
    t.mock.method(performance, 'now', () => now);
    const m = new Metrics({ defaultMetrics: false });
    const hooks = (await metricsPlugin(m, schema).requestDidStart!({} as never))!;
    await hooks.didResolveOperation!({ operation: operation('{ health }') } as never);
    now = 1_250;
    await hooks.willSendResponse!({ response: { body: { kind: 'single', singleResult: {} } } } as never);
    const scraped = await text(m);
    assert.equal(metricValue(scraped, 'pm_graphql_operation_duration_seconds_sum', { root_field: 'health' }), 0.25);
    assert.equal(metricValue(scraped, 'pm_graphql_operation_duration_seconds_bucket', { root_field: 'health', le: '0.25' }), 1);
    assert.equal(metricValue(scraped, 'pm_graphql_operation_duration_seconds_bucket', { root_field: 'health', le: '0.1' }), 0);
  });
});
