import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { DriftMonitor, type DriftReference, type DriftSettings, type ServedRow } from '../src/inference/drift';
import type { Reading } from '../src/inference/model-io';
import { clusterDriftSnapshot, withClusterDrift } from '../src/observability/drift-cluster';
import { Metrics } from '../src/observability/metrics';
import { metricValue, parseMetrics } from './helpers/metrics';
import { TEST_MODEL_DIR } from './helpers/server';

const SETTINGS: DriftSettings = {
  enabled: true,
  windowRows: 10_000,
  maxAgeMs: 86_400_000,
  minRows: 500,
  psiModerate: 0.1,
  psiSignificant: 0.25,
};
const REFERENCE: DriftReference = JSON.parse(readFileSync(path.join(TEST_MODEL_DIR, 'model.json'), 'utf8')).drift;

function rows(n: number, airShift: number, offset: number): ServedRow[] {
  return Array.from({ length: n }, (_, i) => {
    const k = i + offset;
    const reading: Reading = {
      airTemperature: 296 + ((k * 37) % 90) / 10 + airShift,
      processTemperature: 306 + ((k * 53) % 70) / 10,
      rotationalSpeed: 1300 + ((k * 97) % 600),
      torque: 20 + ((k * 31) % 400) / 10,
      toolWear: (k * 7) % 220,
      productType: 'L',
    };
    return { reading, predictedFailureType: k % 10 === 0 ? 'POWER_FAILURE' : 'NO_FAILURE', isAnomaly: k % 25 === 0 };
  });
}

function worker(served: ServedRow[]): { metrics: Metrics; monitor: DriftMonitor } {
  const metrics = new Metrics({ defaultMetrics: false });
  const monitor = new DriftMonitor(SETTINGS);
  monitor.useReference(REFERENCE);
  metrics.watchDrift(monitor);
  monitor.record(served);
  return { metrics, monitor };
}

describe('drift across WORKERS (what the primary serves)', () => {
  it('sums the bin counts and computes PSI from the sums, as one process holding every row would', async () => {
    const a = rows(700, 0, 0);
    const b = rows(500, 5, 700);
    const w1 = worker(a);
    const w2 = worker(b);
    const whole = worker([...a, ...b]).monitor.snapshot();
    const json = await Promise.all([w1, w2].map((w) => (w.metrics.registry as Registry).getMetricsAsJSON()));
    const text = withClusterDrift(await AggregatorRegistry.aggregate(json).metrics());

    const psis = parseMetrics(text).samples.filter((x) => x.name === 'pm_input_drift_psi');
    assert.deepEqual(
      psis.map((x) => x.labels.field),
      whole.fields.map((f) => f.field),
      'one PSI per field, the summed per-worker ones left out',
    );
    psis.forEach((x, i) => assert.ok(Math.abs(x.value - whole.fields[i].psi) < 1e-9, x.labels.field));
    // Each worker alone sees something else: its own PSI differs from the cluster's.
    assert.ok(Math.abs(w2.monitor.snapshot().fields[0].psi - whole.fields[0].psi) > 0.1);
    assert.equal(metricValue(text, 'pm_input_bin_rows_total', { field: 'torque' }), 1_200);
    assert.equal(metricValue(text, 'pm_input_window_rows', { field: 'torque' }), 1_200);
    assert.equal(metricValue(text, 'pm_anomalies_total'), whole.anomalyRate * 1_200);
    assert.equal(parseMetrics(text).types.get('pm_input_drift_psi'), 'gauge');

    const snap = clusterDriftSnapshot(text, SETTINGS, REFERENCE);
    assert.equal(snap.windowRows, 1_200);
    assert.equal(snap.rowsSeen, 1_200);
    assert.equal(snap.anomalyRate, whole.anomalyRate);
    assert.equal(snap.trainingAnomalyRate, REFERENCE.anomalyRate);
    assert.deepEqual(
      snap.fields.map((f) => [f.field, f.status]),
      whole.fields.map((f) => [f.field, f.status]),
    );
    snap.fields.forEach((f, i) => assert.ok(Math.abs(f.psi - whole.fields[i].psi) < 1e-9));
    // The live class mix from the summed per-type window counts, training's from the reference.
    assert.deepEqual(snap.classMix, whole.classMix);
    assert.equal(metricValue(text, 'pm_input_window_failure_types', { failure_type: 'POWER_FAILURE' }), 120);
    assert.equal(whole.classMix.find((c) => c.failureType === 'POWER_FAILURE')!.live, 0.1);
    assert.equal(whole.classMix.find((c) => c.failureType === 'NO_FAILURE')!.training, REFERENCE.classMix.NO_FAILURE);
  });

  it('leaves text without drift series unchanged', () => {
    assert.equal(withClusterDrift('pm_inference_runs_total 3\n'), 'pm_inference_runs_total 3\n');
    const snap = clusterDriftSnapshot('pm_inference_runs_total 3\n', SETTINGS, REFERENCE);
    assert.equal(snap.windowRows, 0);
    assert.deepEqual(
      snap.classMix.map((c) => c.live),
      Array(6).fill(0),
    );
    assert.deepEqual(
      snap.fields.map((f) => f.status),
      Array(5).fill('INSUFFICIENT_DATA'),
    );
  });
});
