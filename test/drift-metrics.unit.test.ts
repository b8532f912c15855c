// The drift series without a server (issue 25): what a scrape reads from a DriftMonitor (PSI, the window's
// bins, classes and anomalies, the training shares), counters that only add what is new, gauges that leave
// with the reference, and how a cluster's primary merges the workers' series.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry, Registry } from 'prom-client';
import { DriftMonitor, psi, type DriftReference, type DriftSettings, type ServedRow } from '../src/inference/drift';
import { FAILURE_TYPES, type FailureTypeName } from '../src/inference/model-io';
import { DriftMetrics } from '../src/observability/drift-metrics';
import { metricValue, parseMetrics, type Sample } from './helpers/metrics';

const SETTINGS: DriftSettings = { enabled: true, windowRows: 100, maxAgeMs: 60_000, minRows: 10, psiModerate: 0.1, psiSignificant: 0.25 };
const FIELDS = ['airTemperature', 'processTemperature', 'rotationalSpeed', 'torque', 'toolWear'] as const;

/** Three bins per field ((-inf, 0), [0, 10), [10, inf)) holding 20 / 30 / 50 % of training; toolWear has two. */
function reference(): DriftReference {
  return {
    rows: 100,
    psiEpsilon: 1e-4,
    fields: FIELDS.map((field) =>
      field === 'toolWear' ? { field, edges: [5], fractions: [0.6, 0.4] } : { field, edges: [0, 10], fractions: [0.2, 0.3, 0.5] },
    ),
    classMix: {
      NO_FAILURE: 0.9,
      HEAT_DISSIPATION_FAILURE: 0.02,
      POWER_FAILURE: 0.02,
      OVERSTRAIN_FAILURE: 0.02,
      TOOL_WEAR_FAILURE: 0.02,
      RANDOM_FAILURES: 0.02,
    },
    anomalyRate: 0.01,
  };
}

/** A reading with every numeric field `value`. */
function row(value: number, predictedFailureType: FailureTypeName = 'NO_FAILURE', isAnomaly = false): ServedRow {
  return {
    reading: { airTemperature: value, processTemperature: value, rotationalSpeed: value, torque: value, toolWear: value, productType: 'L' },
    predictedFailureType,
    isAnomaly,
  };
}

function setup() {
  const registry = new Registry();
  const metrics = new DriftMetrics(registry);
  let now = 1_000_000;
  const monitor = new DriftMonitor(SETTINGS, () => now);
  return {
    registry,
    metrics,
    monitor,
    advance: (ms: number) => (now += ms),
    scrape: async () => registry.metrics(),
  };
}

const series = (text: string, name: string): Sample[] => parseMetrics(text).samples.filter((s) => s.name === name);
/** name{field,bin} as { 'field/bin': value }. */
function byBin(text: string, name: string): Record<string, number> {
  return Object.fromEntries(series(text, name).map((s) => [`${s.labels.field}/${s.labels.bin}`, s.value]));
}
function byLabel(text: string, name: string, label: string): Record<string, number> {
  return Object.fromEntries(series(text, name).map((s) => [s.labels[label], s.value]));
}
const zeroByType = () => Object.fromEntries(FAILURE_TYPES.map((t) => [t, 0]));

describe('DriftMetrics', () => {
  it('starts with the class and anomaly counters at 0 and no drift series, watched or not, until a reference is in use', async () => {
    const { metrics, monitor, scrape, registry } = setup();
    const types = Object.fromEntries(parseMetrics(await scrape()).types);
    assert.deepEqual(types, {
      pm_input_drift_psi: 'gauge',
      pm_input_bin_rows_total: 'counter',
      pm_input_window_rows: 'gauge',
      pm_input_bin_reference_ratio: 'gauge',
      pm_input_window_anomalies: 'gauge',
      pm_input_window_failure_types: 'gauge',
      pm_predicted_failure_types_total: 'counter',
      pm_anomalies_total: 'counter',
    });
    const before = await scrape();
    assert.deepEqual(byLabel(before, 'pm_predicted_failure_types_total', 'failure_type'), zeroByType());
    assert.deepEqual(
      series(before, 'pm_anomalies_total').map((s) => s.value),
      [0],
    );
    for (const name of ['pm_input_drift_psi', 'pm_input_bin_rows_total', 'pm_input_window_rows', 'pm_input_bin_reference_ratio']) {
      assert.deepEqual(series(before, name), [], name);
    }
    assert.deepEqual(series(before, 'pm_input_window_failure_types'), []);
    // Watched, but the model has no drift section: still nothing measured.
    metrics.watch(monitor);
    monitor.useReference(undefined);
    const unwatched = await scrape();
    assert.deepEqual(series(unwatched, 'pm_input_drift_psi'), []);
    assert.deepEqual(series(unwatched, 'pm_input_window_rows'), []);
    assert.equal(metricValue(unwatched, 'pm_input_window_anomalies'), 0);
    assert.equal(registry.getMetricsAsArray().length, 8);
  });

  it('reads PSI, the window per bin, the training shares, the class mix and anomalies from the monitor', async () => {
    const { metrics, monitor, scrape } = setup();
    monitor.useReference(reference());
    metrics.watch(monitor);
    // 4 rows in bin 0 (and toolWear bin 0), 6 in bin 2 (toolWear bin 1); 3 anomalies; two failure types.
    monitor.record([row(-1, 'POWER_FAILURE', true), row(-1), row(-1), row(-1, 'POWER_FAILURE', true)]);
    for (let i = 0; i < 6; i++) monitor.recordOne(row(20, i < 2 ? 'TOOL_WEAR_FAILURE' : 'NO_FAILURE', i === 0));
    const text = await scrape();

    const psis = byLabel(text, 'pm_input_drift_psi', 'field');
    const three = psi([4, 0, 6], 10, [0.2, 0.3, 0.5], 1e-4);
    const two = psi([4, 6], 10, [0.6, 0.4], 1e-4);
    assert.ok(three > 0.1 && two > 0.1, 'a window unlike training');
    assert.deepEqual(psis, { airTemperature: three, processTemperature: three, rotationalSpeed: three, torque: three, toolWear: two });

    const window: Record<string, number> = {};
    const ratios: Record<string, number> = {};
    for (const field of FIELDS) {
      if (field === 'toolWear') {
        Object.assign(window, { [`${field}/0`]: 4, [`${field}/1`]: 6 });
        Object.assign(ratios, { [`${field}/0`]: 0.6, [`${field}/1`]: 0.4 });
      } else {
        Object.assign(window, { [`${field}/0`]: 4, [`${field}/1`]: 0, [`${field}/2`]: 6 });
        Object.assign(ratios, { [`${field}/0`]: 0.2, [`${field}/1`]: 0.3, [`${field}/2`]: 0.5 });
      }
    }
    assert.deepEqual(byBin(text, 'pm_input_window_rows'), window);
    assert.deepEqual(byBin(text, 'pm_input_bin_rows_total'), window, 'since start = the window so far');
    assert.deepEqual(byBin(text, 'pm_input_bin_reference_ratio'), ratios);
    const classes = { ...zeroByType(), NO_FAILURE: 6, POWER_FAILURE: 2, TOOL_WEAR_FAILURE: 2 };
    assert.deepEqual(byLabel(text, 'pm_input_window_failure_types', 'failure_type'), classes);
    assert.deepEqual(byLabel(text, 'pm_predicted_failure_types_total', 'failure_type'), classes);
    assert.equal(metricValue(text, 'pm_input_window_anomalies'), 3);
    assert.equal(metricValue(text, 'pm_anomalies_total'), 3);
  });

  it('adds only what is new to the counters at each scrape, while the window gauges follow expiry', async () => {
    const { metrics, monitor, scrape, advance } = setup();
    monitor.useReference(reference());
    metrics.watch(monitor);
    monitor.record([row(-1, 'POWER_FAILURE', true), row(20)]);
    await scrape();
    const again = await scrape();
    assert.equal(metricValue(again, 'pm_input_bin_rows_total', { field: 'torque', bin: '0' }), 1, 'a second scrape adds nothing');
    assert.equal(metricValue(again, 'pm_anomalies_total'), 1);
    assert.equal(metricValue(again, 'pm_predicted_failure_types_total', { failure_type: 'POWER_FAILURE' }), 1);

    advance(SETTINGS.maxAgeMs + 1); // both rows leave the window
    monitor.record([row(-1, 'POWER_FAILURE', true), row(5, 'NO_FAILURE', true)]);
    const later = await scrape();
    assert.equal(metricValue(later, 'pm_input_bin_rows_total', { field: 'torque', bin: '0' }), 2);
    assert.equal(metricValue(later, 'pm_input_bin_rows_total', { field: 'torque', bin: '1' }), 1);
    assert.equal(metricValue(later, 'pm_input_bin_rows_total', { field: 'torque', bin: '2' }), 1);
    assert.equal(metricValue(later, 'pm_anomalies_total'), 3);
    assert.equal(metricValue(later, 'pm_predicted_failure_types_total', { failure_type: 'POWER_FAILURE' }), 2);
    assert.equal(metricValue(later, 'pm_predicted_failure_types_total', { failure_type: 'NO_FAILURE' }), 2);
    assert.equal(metricValue(later, 'pm_input_window_rows', { field: 'torque', bin: '0' }), 1);
    assert.equal(metricValue(later, 'pm_input_window_rows', { field: 'torque', bin: '1' }), 1);
    assert.equal(metricValue(later, 'pm_input_window_rows', { field: 'torque', bin: '2' }), 0);
    assert.equal(metricValue(later, 'pm_input_window_anomalies'), 2);
    assert.equal(metricValue(later, 'pm_input_window_failure_types', { failure_type: 'POWER_FAILURE' }), 1);
    assert.equal(metricValue(later, 'pm_input_window_failure_types', { failure_type: 'NO_FAILURE' }), 1);
  });

  it('drops the bins of the last reference when a reload brings one with fewer', async () => {
    const { metrics, monitor, scrape } = setup();
    monitor.useReference(reference());
    metrics.watch(monitor);
    monitor.record([row(20)]);
    await scrape();
    const fewer = reference();
    fewer.fields = fewer.fields.map((f) => ({ ...f, edges: [5], fractions: [0.5, 0.5] }));
    monitor.useReference(fewer);
    monitor.record([row(20)]);
    const text = await scrape();
    const bins = (name: string) => Object.keys(byBin(text, name)).filter((k) => k.startsWith('torque/'));
    assert.deepEqual(bins('pm_input_window_rows'), ['torque/0', 'torque/1']);
    assert.deepEqual(bins('pm_input_bin_reference_ratio'), ['torque/0', 'torque/1']);
    assert.equal(metricValue(text, 'pm_input_bin_reference_ratio', { field: 'torque', bin: '1' }), 0.5);
    assert.equal(metricValue(text, 'pm_input_window_rows', { field: 'torque', bin: '1' }), 1);
  });

  it('clears every drift gauge when a reload brings a model without a drift reference (counters keep their totals)', async () => {
    const { metrics, monitor, scrape } = setup();
    monitor.useReference(reference());
    metrics.watch(monitor);
    monitor.record([row(-1, 'POWER_FAILURE', true), row(20, 'POWER_FAILURE', true)]);
    const measured = await scrape();
    assert.equal(series(measured, 'pm_input_drift_psi').length, 5);
    assert.equal(metricValue(measured, 'pm_input_window_anomalies'), 2);

    monitor.useReference(undefined);
    const text = await scrape();
    for (const name of ['pm_input_drift_psi', 'pm_input_window_rows', 'pm_input_bin_reference_ratio', 'pm_input_window_failure_types']) {
      assert.deepEqual(series(text, name), [], `${name} kept the last model's values`);
    }
    assert.deepEqual(
      series(text, 'pm_input_window_anomalies').map((s) => s.value),
      [0],
    );
    assert.equal(metricValue(text, 'pm_input_bin_rows_total', { field: 'torque', bin: '0' }), 1);
    assert.equal(metricValue(text, 'pm_anomalies_total'), 2);
    assert.equal(metricValue(text, 'pm_predicted_failure_types_total', { failure_type: 'POWER_FAILURE' }), 2);
  });

  it('merged across workers: window and totals summed, training shares not multiplied, per-worker PSI left out', async () => {
    const workers = [setup(), setup()];
    for (const w of workers) {
      w.monitor.useReference(reference());
      w.metrics.watch(w.monitor);
      w.monitor.record([row(-1, 'POWER_FAILURE', true), row(20)]);
    }
    const merged = AggregatorRegistry.aggregate(await Promise.all(workers.map((w) => w.registry.getMetricsAsJSON())));
    const text = await merged.metrics();
    assert.deepEqual(series(text, 'pm_input_drift_psi'), []);
    assert.equal(metricValue(text, 'pm_input_bin_reference_ratio', { field: 'torque', bin: '2' }), 0.5);
    assert.equal(metricValue(text, 'pm_input_window_rows', { field: 'torque', bin: '0' }), 2);
    assert.equal(metricValue(text, 'pm_input_bin_rows_total', { field: 'torque', bin: '2' }), 2);
    assert.equal(metricValue(text, 'pm_input_window_anomalies'), 2);
    assert.equal(metricValue(text, 'pm_input_window_failure_types', { failure_type: 'POWER_FAILURE' }), 2);
    assert.equal(metricValue(text, 'pm_predicted_failure_types_total', { failure_type: 'NO_FAILURE' }), 2);
    assert.equal(metricValue(text, 'pm_anomalies_total'), 2);
  });
});
