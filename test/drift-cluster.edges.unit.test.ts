// The cluster's drift text and snapshot at their edges: the HELP line an operator reads, the body kept as it
// came, an empty window (no rows yet after a start or a reload) and a model without a drift section.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { DriftMonitor, type DriftSettings } from '../src/inference/drift';
import { clusterDriftSnapshot, withClusterDrift } from '../src/observability/drift-cluster';
import { Metrics } from '../src/observability/metrics';
import { testDriftReference } from './helpers/drift';

const SETTINGS: DriftSettings = {
  enabled: true,
  windowRows: 1_000,
  maxAgeMs: 60_000,
  minRows: 100,
  psiModerate: 0.1,
  psiSignificant: 0.25,
};
const REFERENCE = testDriftReference();

/** Two workers' aggregated text with the drift series present and nothing in their windows yet. */
async function emptyWindowText(): Promise<string> {
  const json = await Promise.all(
    [1, 2].map(() => {
      const metrics = new Metrics({ defaultMetrics: false });
      const monitor = new DriftMonitor(SETTINGS);
      monitor.useReference(REFERENCE);
      metrics.watchDrift(monitor);
      return (metrics.registry as Registry).getMetricsAsJSON();
    }),
  );
  return AggregatorRegistry.aggregate(json).metrics();
}

describe('withClusterDrift: the text the primary serves', () => {
  it('keeps the aggregated body first, as it came, then one HELP, TYPE and PSI line per field', async () => {
    const body = await emptyWindowText();
    const text = withClusterDrift(body);
    assert.ok(text.startsWith(body.replace(/\n+$/, '\n')), 'the workers’ text comes first, unchanged');
    const added = text.slice(body.replace(/\n+$/, '\n').length).split('\n');
    assert.equal(
      added[0],
      '# HELP pm_input_drift_psi Population Stability Index of each reading over the drift window against training, from the window counts summed over workers.',
    );
    assert.equal(added[1], '# TYPE pm_input_drift_psi gauge');
    assert.deepEqual(
      added.slice(2, -1).map((l) => l.replace(/ .*$/, '')),
      REFERENCE.fields.map((f) => `pm_input_drift_psi{field="${f.field}"}`),
    );
    assert.equal(added.at(-1), '', 'ends in one newline');
  });

  it('puts exactly one newline between a body without a trailing newline, or with several, and the PSI lines', async () => {
    const body = (await emptyWindowText()).replace(/\n+$/, '');
    for (const ending of ['', '\n', '\n\n\n']) {
      const text = withClusterDrift(body + ending);
      assert.ok(text.startsWith(`${body}\n# HELP pm_input_drift_psi `), JSON.stringify(ending));
    }
  });
});

describe('clusterDriftSnapshot at its edges', () => {
  it('an empty window (drift series present, no rows yet) answers 0 anomaly rate and 0 live shares, never NaN', async () => {
    const snap = clusterDriftSnapshot(await emptyWindowText(), SETTINGS, REFERENCE);
    assert.equal(snap.windowRows, 0);
    assert.equal(snap.anomalyRate, 0);
    assert.deepEqual(
      snap.classMix.map((c) => c.live),
      Array(snap.classMix.length).fill(0),
    );
    assert.deepEqual(
      snap.fields.map((f) => f.status),
      Array(snap.fields.length).fill('INSUFFICIENT_DATA'),
    );
  });

  it('text without drift series answers 0, not NaN, for the anomaly rate', () => {
    assert.equal(clusterDriftSnapshot('pm_inference_runs_total 3\n', SETTINGS, REFERENCE).anomalyRate, 0);
  });

  it('a model without a drift section (no training reference) answers 0 for the training side instead of throwing', async () => {
    const snap = clusterDriftSnapshot(await emptyWindowText(), SETTINGS, undefined);
    assert.equal(snap.trainingAnomalyRate, 0);
    assert.deepEqual(
      snap.classMix.map((c) => c.training),
      Array(snap.classMix.length).fill(0),
    );
    const withReference = clusterDriftSnapshot(await emptyWindowText(), SETTINGS, REFERENCE);
    assert.equal(withReference.trainingAnomalyRate, REFERENCE.anomalyRate);
  });
});
