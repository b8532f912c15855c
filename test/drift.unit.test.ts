import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config';
import {
  binOf,
  DriftMonitor,
  driftReferenceProblem,
  driftStatus,
  MAX_BINS,
  psi,
  type DriftReference,
  type DriftSettings,
  type ServedRow,
} from '../src/inference/drift';
import type { FailureTypeName, Reading } from '../src/inference/model-io';
import { loadModelArtifacts, ModelLoadError } from '../src/inference/model-manifest';
import { TEST_MODEL_DIR } from './helpers/server';

const SETTINGS: DriftSettings = { enabled: true, windowRows: 100, maxAgeMs: 60_000, minRows: 10, psiModerate: 0.1, psiSignificant: 0.25 };

/** Three bins per field: (-inf, 0), [0, 10), [10, inf); training puts 20 / 40 / 40 % in them. */
function reference(edges = [0, 10]): DriftReference {
  const field = (name: string) => ({ field: name, edges, fractions: [0.2, 0.4, 0.4] });
  return {
    rows: 100,
    psiEpsilon: 1e-4,
    fields: ['airTemperature', 'processTemperature', 'rotationalSpeed', 'torque', 'toolWear'].map(field) as DriftReference['fields'],
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

/** A row with every numeric reading `value` (so every field lands in the same bin). */
function row(value: number, predictedFailureType: FailureTypeName = 'NO_FAILURE', isAnomaly = false): ServedRow {
  const reading: Reading = {
    airTemperature: value,
    processTemperature: value,
    rotationalSpeed: value,
    torque: value,
    toolWear: value,
    productType: 'L',
  };
  return { reading, predictedFailureType, isAnomaly };
}

const rows = (n: number, value: number) => Array.from({ length: n }, () => row(value));
const airBins = (m: DriftMonitor) => Array.from(m.counts().counts.subarray(0, 3));

describe('binOf', () => {
  const edges = Float64Array.from([297.4, 298.1, 300]);
  it('counts the edges at or below the value: an edge value belongs to the bin above, the outer bins are open', () => {
    assert.equal(binOf(edges, 200), 0);
    assert.equal(binOf(edges, 297.39), 0);
    assert.equal(binOf(edges, 297.4), 1);
    assert.equal(binOf(edges, 298.09), 1);
    assert.equal(binOf(edges, 298.1), 2);
    assert.equal(binOf(edges, 299.99), 2);
    assert.equal(binOf(edges, 300), 3);
    assert.equal(binOf(edges, 1e9), 3);
  });

  it('agrees with training/drift.py on the committed reference: every training fraction is reproduced from the dataset', () => {
    const manifest = JSON.parse(readFileSync(path.join(TEST_MODEL_DIR, 'model.json'), 'utf8'));
    const held = new Set<number>(manifest.training.heldOutUDIs);
    const lines = readFileSync('data/ai4i2020.csv', 'utf8').trim().split('\n').slice(1);
    const train = lines.map((l) => l.split(',')).filter((c) => !held.has(Number(c[0])));
    assert.equal(train.length, manifest.drift.rows);
    manifest.drift.fields.forEach((f: { edges: number[]; fractions: number[] }, i: number) => {
      const counts = new Array(f.fractions.length).fill(0);
      for (const c of train) counts[binOf(Float64Array.from(f.edges), Number(c[3 + i]))]++;
      counts.forEach((n, b) => assert.ok(Math.abs(n / train.length - f.fractions[b]) < 1e-6, `field ${i} bin ${b}`));
    });
  });
});

describe('psi', () => {
  it('matches a hand computation', () => {
    // (0.5-0.4)ln(0.5/0.4) + (0.3-0.4)ln(0.3/0.4) + (0.2-0.2)ln(1) = 0.0223144 + 0.0287682 = 0.0510826
    assert.ok(Math.abs(psi([50, 30, 20], 100, [0.4, 0.4, 0.2], 1e-4) - 0.0510826) < 1e-6);
    // Empty bin: a = epsilon. (1e-4-0.2)ln(1e-4/0.2) + (0.6-0.4)ln(1.5) + 0 = 1.5194204 + 0.0810930 = 1.6005134
    assert.ok(Math.abs(psi([0, 60, 40], 100, [0.2, 0.4, 0.4], 1e-4) - 1.6005134) < 1e-6);
    assert.equal(psi([20, 40, 40], 100, [0.2, 0.4, 0.4], 1e-4), 0);
    assert.equal(psi([0, 0, 0], 0, [0.2, 0.4, 0.4], 1e-4), 0, 'no rows: no verdict, not NaN');
  });

  it('maps PSI and window size to a status with the configured thresholds', () => {
    assert.equal(driftStatus(5, 9, SETTINGS), 'INSUFFICIENT_DATA');
    assert.equal(driftStatus(0.0999, 10, SETTINGS), 'NONE');
    assert.equal(driftStatus(0.1, 10, SETTINGS), 'MODERATE');
    assert.equal(driftStatus(0.2499, 10, SETTINGS), 'MODERATE');
    assert.equal(driftStatus(0.25, 10, SETTINGS), 'SIGNIFICANT');
    assert.equal(driftStatus(0.15, 10, { ...SETTINGS, psiModerate: 0.2, psiSignificant: 0.3 }), 'NONE');
  });
});

describe('DriftMonitor', () => {
  it('keeps the most recent DRIFT_WINDOW_ROWS rows: older rows leave their bins, totals keep counting', () => {
    const m = new DriftMonitor(SETTINGS);
    m.useReference(reference());
    m.record(rows(60, -5));
    m.record(rows(70, 5));
    assert.deepEqual(airBins(m), [30, 70, 0]);
    m.record(rows(100, 50));
    assert.deepEqual(airBins(m), [0, 0, 100]);
    const snap = m.snapshot();
    assert.equal(snap.windowRows, 100);
    assert.equal(snap.rowsSeen, 230);
    assert.deepEqual(Array.from(m.totals.bins.subarray(0, 3)), [60, 70, 100]);
    assert.deepEqual(Array.from(m.totals.bins.subarray(MAX_BINS, MAX_BINS + 3)), [60, 70, 100], 'every field is counted');
  });

  it('drops rows older than DRIFT_WINDOW_MAX_AGE, so a quiet line does not keep an old verdict', () => {
    let now = 1_000_000;
    const m = new DriftMonitor(SETTINGS, () => now);
    m.useReference(reference());
    m.record(rows(20, 50));
    now += 30_000;
    m.recordOne(row(5));
    assert.equal(m.snapshot().fields[0].status, 'SIGNIFICANT');
    now += 30_001; // the first 20 rows are now 60.001 s old
    assert.deepEqual(airBins(m), [0, 1, 0]);
    const snap = m.snapshot();
    assert.equal(snap.windowRows, 1);
    assert.equal(snap.rowsSeen, 21);
    assert.deepEqual(
      snap.fields.map((f) => f.status),
      Array(5).fill('INSUFFICIENT_DATA'),
    );
  });

  it('reports INSUFFICIENT_DATA below DRIFT_MIN_ROWS, then NONE for the training mix and SIGNIFICANT for a shifted one', () => {
    const m = new DriftMonitor(SETTINGS);
    m.useReference(reference());
    m.record([...rows(1, -1), ...rows(4, 5), ...rows(4, 50)]);
    assert.equal(m.snapshot().fields[0].status, 'INSUFFICIENT_DATA');
    m.record([row(-1), row(5), row(5), row(5), row(50), row(50), row(50), row(50), row(-1)]);
    const snap = m.snapshot();
    assert.equal(snap.windowRows, 18);
    // 3 / 7 / 8 rows against 20 / 40 / 40 %: PSI by hand from these shares.
    const expected =
      (3 / 18 - 0.2) * Math.log(3 / 18 / 0.2) + (7 / 18 - 0.4) * Math.log(7 / 18 / 0.4) + (8 / 18 - 0.4) * Math.log(8 / 18 / 0.4);
    assert.ok(Math.abs(snap.fields[0].psi - expected) < 1e-12);
    assert.equal(snap.fields[0].status, 'NONE');
    m.record(rows(82, 50));
    assert.equal(m.snapshot().fields[0].status, 'SIGNIFICANT');
  });

  it('tracks the live class mix and anomaly rate beside training', () => {
    const m = new DriftMonitor(SETTINGS);
    m.useReference(reference());
    m.record([row(5, 'POWER_FAILURE', true), row(5), row(5), row(5, 'POWER_FAILURE')]);
    const snap = m.snapshot();
    assert.equal(snap.anomalyRate, 0.25);
    assert.equal(snap.trainingAnomalyRate, 0.01);
    assert.deepEqual(
      snap.classMix.filter((c) => c.live > 0),
      [
        { failureType: 'NO_FAILURE', live: 0.5, training: 0.9 },
        { failureType: 'POWER_FAILURE', live: 0.5, training: 0.02 },
      ],
    );
    assert.equal(m.totals.anomalies, 1);
  });

  it('empties the window when a reload brings another reference, keeps it for the same one', () => {
    const m = new DriftMonitor(SETTINGS);
    m.useReference(reference());
    m.record(rows(10, 5));
    m.useReference(reference());
    assert.equal(m.snapshot().windowRows, 10);
    m.useReference(reference([0, 20]));
    assert.equal(m.snapshot().windowRows, 0);
    m.useReference(undefined);
    m.record(rows(10, 5));
    assert.equal(m.snapshot().windowRows, 0, 'no reference: nothing is counted');
  });

  it('counts nothing when DRIFT_ENABLED=false', () => {
    const m = new DriftMonitor({ ...SETTINGS, enabled: false });
    m.useReference(reference());
    m.record(rows(50, 5));
    m.recordOne(row(5));
    assert.equal(m.snapshot().windowRows, 0);
    assert.equal(m.totals.rows, 0);
  });
});

describe('the drift section of model.json', () => {
  it('is valid in the committed model', () => {
    const manifest = JSON.parse(readFileSync(path.join(TEST_MODEL_DIR, 'model.json'), 'utf8'));
    assert.equal(driftReferenceProblem(manifest.drift), undefined);
    assert.equal(driftReferenceProblem(reference()), undefined);
  });

  it('names what is wrong with a malformed one', () => {
    const bad = (change: (d: any) => void) => {
      const d: any = structuredClone(reference());
      change(d);
      return driftReferenceProblem(d);
    };
    assert.match(bad((d) => (d.fields[1].edges = [10, 0])) ?? '', /processTemperature: "edges" must increase/);
    assert.match(bad((d) => (d.fields[0].fractions = [0.5, 0.5])) ?? '', /airTemperature needs "edges" and one more "fractions"/);
    assert.match(bad((d) => (d.fields[0].fractions = [0.5, 0.5, 0.5])) ?? '', /sum to 1/);
    assert.match(bad((d) => d.fields.reverse()) ?? '', /"fields" must list airTemperature/);
    assert.match(bad((d) => delete d.classMix.RANDOM_FAILURES) ?? '', /"classMix"/);
    assert.match(bad((d) => (d.psiEpsilon = 0)) ?? '', /"psiEpsilon" must be 0.0001/);
    assert.match(bad((d) => (d.anomalyRate = 2)) ?? '', /anomalyRate/);
  });

  it('is optional when loading a model (older manifests still serve) but stops a load when malformed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-drift-'));
    cpSync(TEST_MODEL_DIR, dir, { recursive: true });
    const file = path.join(dir, 'model.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    const { drift, ...older } = manifest;
    writeFileSync(file, JSON.stringify(older));
    assert.equal((await loadModelArtifacts(dir)).manifest.drift, undefined);
    writeFileSync(file, JSON.stringify({ ...manifest, drift: { ...drift, fields: drift.fields.slice(1) } }));
    await assert.rejects(
      loadModelArtifacts(dir),
      (err: Error) => err instanceof ModelLoadError && /"drift" "fields" must list/.test(err.message),
    );
  });
});

describe('driftReferenceProblem: every rule, on both sides of its bound', () => {
  const FIELD_LIST = 'airTemperature, processTemperature, rotationalSpeed, torque, toolWear';
  const problem = (change: (d: any) => void) => {
    const d: any = structuredClone(reference());
    change(d);
    return driftReferenceProblem(d);
  };
  const withFractions = (fractions: number[], edges = fractions.slice(1).map((_, i) => i)) =>
    problem((d) => Object.assign(d.fields[2], { edges, fractions }));

  it('wants an object', () => {
    for (const value of [null, undefined, 5, 'drift']) assert.equal(driftReferenceProblem(value), 'must be an object');
  });

  it('wants an anomaly rate in [0, 1], the bounds included', () => {
    for (const rate of [-0.01, 1.01, '0.5', undefined, Number.NaN]) {
      assert.equal(
        problem((d) => (d.anomalyRate = rate)),
        '"anomalyRate" must be a number in [0, 1]',
        String(rate),
      );
    }
    for (const rate of [0, 1, 0.5])
      assert.equal(
        problem((d) => (d.anomalyRate = rate)),
        undefined,
        String(rate),
      );
  });

  it('wants every numeric field in order, and names them', () => {
    const message = `"fields" must list ${FIELD_LIST} in that order`;
    assert.equal(
      problem((d) => (d.fields[1] = null)),
      message,
    );
    assert.equal(
      problem((d) => (d.fields = 'all')),
      message,
    );
    assert.equal(
      problem((d) => d.fields.pop()),
      message,
    );
  });

  it('wants edges and one more fraction per field, at most MAX_BINS bins', () => {
    const message = `"fields" entry rotationalSpeed needs "edges" and one more "fractions" (at most ${MAX_BINS} bins)`;
    assert.equal(
      problem((d) => (d.fields[2].edges = undefined)),
      message,
    );
    assert.equal(
      problem((d) => (d.fields[2].fractions = undefined)),
      message,
    );
    assert.equal(
      problem((d) => (d.fields[2].fractions = 'all')),
      message,
    );
    assert.equal(withFractions(Array(MAX_BINS).fill(1 / MAX_BINS)), undefined, 'MAX_BINS bins fit');
    assert.equal(withFractions(Array(MAX_BINS + 1).fill(1 / (MAX_BINS + 1))), message);
  });

  it('wants finite, strictly increasing edges', () => {
    const message = '"fields" entry rotationalSpeed: "edges" must increase strictly';
    assert.equal(withFractions([0.2, 0.4, 0.4], [0, 0]), message, 'equal edges');
    assert.equal(withFractions([0.2, 0.4, 0.4], [0, Infinity]), message);
    assert.equal(withFractions([0.2, 0.4, 0.4], [Number.NaN, 1]), message);
    assert.equal(withFractions([0.2, 0.4, 0.4], [-1, 0]), undefined);
  });

  it('wants fractions in [0, 1] that sum to 1 (within 0.001)', () => {
    const message = '"fields" entry rotationalSpeed: "fractions" must lie in [0, 1] and sum to 1';
    assert.equal(withFractions([-0.0005, 0.5005, 0.5]), message, 'negative, sum 1');
    assert.equal(withFractions([1.0005, 0, 0]), message, 'above 1, sum within tolerance');
    assert.equal(withFractions([Number.NaN, 0.5, 0.5]), message);
    assert.equal(withFractions([0.2, 0.4, 0.402]), message);
    assert.equal(withFractions([0.2, 0.4, 0.398]), message);
    assert.equal(withFractions([1, 0, 0]), undefined, 'the bounds are shares too');
    assert.equal(withFractions([0.2, 0.4, 0.4005]), undefined, 'within tolerance');
  });

  it('wants a class share for every failure type', () => {
    const message =
      '"classMix" must give a share for each of NO_FAILURE, HEAT_DISSIPATION_FAILURE, POWER_FAILURE, OVERSTRAIN_FAILURE, TOOL_WEAR_FAILURE, RANDOM_FAILURES';
    for (const mix of [null, undefined, 'mix', 5])
      assert.equal(
        problem((d) => (d.classMix = mix)),
        message,
        String(mix),
      );
    assert.equal(
      problem((d) => (d.classMix.POWER_FAILURE = '0.02')),
      message,
    );
  });
});

describe('DriftMonitor: the window, field by field', () => {
  /** A row whose five readings land in different bins: air 0, process 1, speed 2, torque 0, wear 1. */
  const mixed = (predictedFailureType: FailureTypeName = 'NO_FAILURE', isAnomaly = false): ServedRow => ({
    reading: { airTemperature: -1, processTemperature: 5, rotationalSpeed: 50, torque: -1, toolWear: 5, productType: 'L' },
    predictedFailureType,
    isAnomaly,
  });
  const fieldBins = (m: DriftMonitor) => {
    const c = m.counts().counts;
    return [0, 1, 2, 3, 4].map((f) => Array.from(c.subarray(f * MAX_BINS, f * MAX_BINS + 3)));
  };

  it("takes an evicted row out of each field's own bin, its class and its anomaly count", () => {
    const m = new DriftMonitor(SETTINGS);
    m.useReference(reference());
    m.record(Array.from({ length: 100 }, () => mixed('POWER_FAILURE', true)));
    assert.deepEqual(fieldBins(m), [
      [100, 0, 0],
      [0, 100, 0],
      [0, 0, 100],
      [100, 0, 0],
      [0, 100, 0],
    ]);
    m.record(rows(60, 50));
    for (let i = 0; i < 40; i++) m.recordOne(row(50));
    assert.deepEqual(fieldBins(m), Array(5).fill([0, 0, 100]));
    const snap = m.snapshot();
    assert.equal(snap.anomalyRate, 0);
    assert.deepEqual(
      snap.classMix.filter((c) => c.live > 0).map((c) => [c.failureType, c.live]),
      [['NO_FAILURE', 1]],
    );
  });

  it('keeps a row exactly DRIFT_WINDOW_MAX_AGE old, drops it a millisecond later', () => {
    let now = 5_000;
    const m = new DriftMonitor(SETTINGS, () => now);
    m.useReference(reference());
    m.recordOne(row(5));
    now += SETTINGS.maxAgeMs;
    assert.equal(m.counts().windowRows, 1);
    now += 1;
    assert.equal(m.counts().windowRows, 0);
  });

  it('reports an empty window as zeros, and no verdict without a reference', () => {
    const m = new DriftMonitor(SETTINGS);
    let snap = m.snapshot();
    assert.deepEqual(
      snap.fields.map((f) => [f.psi, f.status]),
      Array(5).fill([0, 'INSUFFICIENT_DATA']),
    );
    assert.equal(snap.anomalyRate, 0);
    assert.equal(snap.trainingAnomalyRate, 0);
    assert.ok(snap.classMix.every((c) => c.live === 0 && c.training === 0));
    m.useReference(reference());
    snap = m.snapshot();
    assert.equal(snap.anomalyRate, 0);
    assert.ok(snap.classMix.every((c) => c.live === 0));
    assert.equal(snap.classMix[0].training, 0.9);
  });

  it('counts nothing with a window of no rows', () => {
    const m = new DriftMonitor({ ...SETTINGS, windowRows: 0 });
    m.useReference(reference());
    m.record(rows(3, 5));
    m.recordOne(row(5));
    assert.equal(m.totals.rows, 0);
    assert.equal(m.snapshot().windowRows, 0);
    assert.equal(m.snapshot().anomalyRate, 0);
  });
});

describe('DRIFT_* configuration', () => {
  const rejects = (env: Record<string, string>, variable: string, pattern: RegExp) =>
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && err.variable === variable && pattern.test(err.message),
    );

  it('reads every setting', () => {
    const c = loadConfig({
      DRIFT_ENABLED: 'false',
      DRIFT_WINDOW_ROWS: '2000',
      DRIFT_WINDOW_MAX_AGE: '30m',
      DRIFT_MIN_ROWS: '200',
      DRIFT_PSI_MODERATE: '0.05',
      DRIFT_PSI_SIGNIFICANT: '0.5',
    }).observability.drift;
    assert.deepEqual(c, { enabled: false, windowRows: 2000, maxAgeMs: 1_800_000, minRows: 200, psiModerate: 0.05, psiSignificant: 0.5 });
  });

  it('refuses bad values with the variable named', () => {
    rejects({ DRIFT_ENABLED: 'maybe' }, 'DRIFT_ENABLED', /true or false/);
    rejects({ DRIFT_WINDOW_ROWS: '10' }, 'DRIFT_WINDOW_ROWS', /between 100 and/);
    rejects({ DRIFT_WINDOW_ROWS: 'lots' }, 'DRIFT_WINDOW_ROWS', /integer/);
    rejects({ DRIFT_WINDOW_MAX_AGE: 'yesterday' }, 'DRIFT_WINDOW_MAX_AGE', /duration/);
    rejects({ DRIFT_MIN_ROWS: '20000' }, 'DRIFT_MIN_ROWS', /at most DRIFT_WINDOW_ROWS \(10000\)/);
    rejects({ DRIFT_PSI_MODERATE: '-1' }, 'DRIFT_PSI_MODERATE', /number/);
    rejects({ DRIFT_PSI_MODERATE: 'NaN' }, 'DRIFT_PSI_MODERATE', /number/);
    rejects({ DRIFT_PSI_SIGNIFICANT: '0.05' }, 'DRIFT_PSI_SIGNIFICANT', /above DRIFT_PSI_MODERATE \(0.1\)/);
  });
});
