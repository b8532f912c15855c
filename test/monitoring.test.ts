// deploy/monitoring: the alert rules pass their promtool unit tests, and every PromQL expression of the
// rules and of the Grafana dashboard parses and names only metrics this server exports.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { Metrics } from '../src/observability/metrics';

const DIR = path.join(__dirname, '..', '..', 'deploy', 'monitoring');
const read = (file: string) => readFileSync(path.join(DIR, file), 'utf8');

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
if (!promtool && process.env.CI === 'true') throw new Error('promtool is not installed (apt package prometheus), but CI=true');
const skipPromtool = promtool ? false : 'promtool not found (apt package prometheus)';
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

function run(args: string[], cwd = DIR): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Every metric the server's registry exports (histograms also as their _bucket, _sum and _count series). */
function exportedNames(): Set<string> {
  const metrics = new Metrics();
  const names = new Set<string>();
  // getMetricsAsJSON is async in prom-client 15; the metric objects themselves carry name and type.
  for (const m of metrics.registry.getMetricsAsArray()) {
    const { name, type } = m as unknown as { name: string; type: string };
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return names;
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression reads: identifiers outside strings, label matchers, ranges, grouping clauses and function calls. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

function dashboardExprs(): Array<{ panel: string; expr: string }> {
  const dashboard = JSON.parse(read('dashboard.json'));
  return dashboard.panels.flatMap((p: { title: string; targets: Array<{ expr: string }> }) =>
    p.targets.map((t) => ({ panel: p.title, expr: t.expr })),
  );
}

function alertExprs(): Array<{ alert: string; expr: string }> {
  const rules = parse(read('alerts.yml'));
  return rules.groups.flatMap((g: { rules: Array<{ alert: string; expr: string }> }) =>
    g.rules.map((r) => ({ alert: r.alert, expr: r.expr })),
  );
}

describe('metricNames (the dashboard check itself)', () => {
  it('finds the metrics and only the metrics', () => {
    assert.deepEqual(
      metricNames('sum by (le, field) (rate(pm_a_total{outcome!="ok", x=~"a|b"}[5m])) / ignoring (bin) group_left sum(pm_b) > bool 0.1'),
      ['pm_a_total', 'pm_b'],
    );
    assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le) (rate(pm_c_bucket[5m]))) unless on (instance) up'), [
      'pm_c_bucket',
      'up',
    ]);
  });
});

describe('deploy/monitoring/alerts.yml', { skip: skipPromtool }, () => {
  it('is valid for promtool check rules', () => {
    const r = run(['check', 'rules', 'alerts.yml']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS: 8 rules found/);
  });

  it('passes its promtool unit tests (alerts.test.yml)', () => {
    const r = run(['test', 'rules', 'alerts.test.yml']);
    assert.equal(r.status, 0, r.out);
  });

  it('covers every alert the issue lists, and each has a unit test', () => {
    const names = alertExprs().map((a) => a.alert);
    assert.deepEqual(names, [
      'PredictiveMaintenanceErrorRatioHigh',
      'PredictiveMaintenancePredictLatencyHigh',
      'PredictiveMaintenanceQueueDrops',
      'PredictiveMaintenanceRateLimitSpike',
      'PredictiveMaintenanceModelReloadRefused',
      'PredictiveMaintenanceInputDriftSignificant',
      'PredictiveMaintenanceAnomalyRateHigh',
      'PredictiveMaintenanceReplicaNotReady',
    ]);
    const tests = parse(read('alerts.test.yml'));
    const tested = new Set<string>(
      tests.tests.flatMap((t: { alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }) =>
        t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    assert.deepEqual(
      names.filter((n) => !tested.has(n)),
      [],
      'every alert has a test where it fires',
    );
  });

  it('reads only metrics the server exports (and Prometheus own `up`)', () => {
    const exported = exportedNames();
    for (const { alert, expr } of alertExprs()) {
      const unknown = metricNames(expr).filter((n) => n !== 'up' && !exported.has(n));
      assert.deepEqual(unknown, [], `${alert} names ${unknown.join(', ')}`);
    }
  });
});

describe('deploy/monitoring/dashboard.json', () => {
  it('every expression parses (promtool check rules on a rule file made of them)', { skip: skipPromtool }, () => {
    const exprs = dashboardExprs();
    const rules = exprs.map((e, i) => `      - record: dashboard:panel_${i}\n        expr: ${JSON.stringify(e.expr)}`).join('\n');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-dashboard-'));
    writeFileSync(path.join(dir, 'dashboard-rules.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
    const r = run(['check', 'rules', 'dashboard-rules.yml'], dir);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  });

  it(
    'computes fleet PSI from the bin counters as the formula does (promtool unit test on the panel expression)',
    { skip: skipPromtool },
    () => {
      const expr = dashboardExprs().find((e) => e.expr.includes('ln('))!.expr;
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-fleet-psi-'));
      writeFileSync(
        path.join(dir, 'r.yml'),
        `groups:\n  - name: t\n    rules:\n      - record: fleet_psi\n        expr: ${JSON.stringify(expr)}\n`,
      );
      // Two replicas put 90 / 10 % of their rows in bins training holds 50 / 50 %:
      // (0.9-0.5)ln(0.9/0.5) + (0.1-0.5)ln(0.1/0.5) = 0.2351 + 0.6438 = 0.8789.
      const series = (labels: string, values: string) =>
        `      - series: 'pm_input_bin_rows_total{field="a",${labels}}'\n        values: '${values}'`;
      writeFileSync(
        path.join(dir, 't.yml'),
        [
          'rule_files: [r.yml]',
          'evaluation_interval: 1m',
          'tests:',
          '  - interval: 1m',
          '    input_series:',
          series('bin="0",instance="x"', '0+45x70'),
          series('bin="0",instance="y"', '0+45x70'),
          series('bin="1",instance="x"', '0+10x70'),
          `      - series: 'pm_input_bin_reference_ratio{field="a",bin="0",instance="x"}'\n        values: '0.5+0x70'`,
          `      - series: 'pm_input_bin_reference_ratio{field="a",bin="1",instance="x"}'\n        values: '0.5+0x70'`,
          '    promql_expr_test:',
          '      - expr: round(fleet_psi * 10000)',
          '        eval_time: 65m',
          '        exp_samples:',
          `          - labels: '{field="a"}'`,
          '            value: 8789',
          '',
        ].join('\n'),
      );
      const r = run(['test', 'rules', 't.yml'], dir);
      assert.equal(r.status, 0, r.out);
    },
  );

  it('names only metrics the server exports', () => {
    const exported = exportedNames();
    for (const { panel, expr } of dashboardExprs()) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `${panel}: an expression without a metric`);
      const unknown = names.filter((n) => !exported.has(n));
      assert.deepEqual(unknown, [], `${panel} names ${unknown.join(', ')}`);
    }
  });

  it('shows traffic, latency, batching, limits, drift per field and the class mix', () => {
    const used = new Set(dashboardExprs().flatMap((e) => metricNames(e.expr)));
    for (const name of [
      'pm_graphql_operations_total',
      'pm_graphql_operation_duration_seconds_bucket',
      'pm_inference_batch_rows_bucket',
      'pm_inference_queue_wait_seconds_bucket',
      'pm_rate_limit_refusals_total',
      'pm_input_drift_psi',
      'pm_input_bin_rows_total',
      'pm_predicted_failure_types_total',
      'pm_anomalies_total',
    ]) {
      assert.ok(used.has(name), name);
    }
  });
});

describe('the monitoring ConfigMaps in the kustomize base', { skip: kubectl ? false : 'kubectl not found' }, () => {
  for (const overlay of ['cpu', 'gpu']) {
    it(`${overlay} renders alerts.yml and dashboard.json unchanged`, () => {
      const out = spawnSync('kubectl', ['kustomize', path.join(DIR, '..', 'kubernetes', 'overlays', overlay)], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const maps = parseAllDocuments(out.stdout)
        .map((d) => d.toJS())
        .filter((o) => o.kind === 'ConfigMap');
      const byName = (name: string) => maps.find((m) => m.metadata.name === name);
      assert.equal(byName('predictive-maintenance-alerts')?.data['alerts.yml'], read('alerts.yml'));
      assert.equal(byName('predictive-maintenance-dashboard')?.data['dashboard.json'], read('dashboard.json'));
      assert.equal(byName('predictive-maintenance-dashboard')?.metadata.labels.grafana_dashboard, '1');
    });
  }
});
