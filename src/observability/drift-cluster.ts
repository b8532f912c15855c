import { driftStatus, psi, PSI_EPSILON, type DriftSettings, type DriftSnapshot } from '../inference/drift';
import { NUMERIC_FIELDS, type NumericField } from '../inference/explanation';
import { FAILURE_TYPES, type FailureTypeName } from '../inference/model-io';

/**
 * WORKERS > 1: each worker has its own drift window, and PSIs of parts cannot be added. prom-client's
 * AggregatorRegistry sums the workers' window counts (pm_input_window_rows) and keeps one copy of the
 * training shares (pm_input_bin_reference_ratio); these functions compute the cluster's PSI from those
 * sums, so a cluster reports what one process holding every worker's rows would.
 */

const SAMPLE =
  /^(pm_input_window_rows|pm_input_bin_reference_ratio|pm_input_bin_rows_total|pm_input_window_anomalies|pm_input_window_failure_types)(?:\{([^}]*)\})? (\S+)$/;

interface ClusterCounts {
  window: Map<NumericField, number[]>;
  reference: Map<NumericField, number[]>;
  seen: Map<NumericField, number>;
  anomalies: number;
  classes: Map<string, number>;
}

function parse(text: string): ClusterCounts {
  const out: ClusterCounts = { window: new Map(), reference: new Map(), seen: new Map(), anomalies: 0, classes: new Map() };
  for (const line of text.split('\n')) {
    if (!line.startsWith('pm_input_')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const value = Number(m[3]);
    if (m[1] === 'pm_input_window_anomalies') {
      out.anomalies = value;
      continue;
    }
    if (m[1] === 'pm_input_window_failure_types') {
      out.classes.set(labels.failure_type, value);
      continue;
    }
    const field = labels.field as NumericField;
    if (!NUMERIC_FIELDS.includes(field)) continue;
    if (m[1] === 'pm_input_bin_rows_total') {
      out.seen.set(field, (out.seen.get(field) ?? 0) + value);
      continue;
    }
    const target = m[1] === 'pm_input_window_rows' ? out.window : out.reference;
    const bins = target.get(field) ?? [];
    bins[Number(labels.bin)] = value;
    target.set(field, bins);
  }
  return out;
}

function psiPerField(c: ClusterCounts): Array<{ field: NumericField; psi: number; rows: number }> {
  return NUMERIC_FIELDS.filter((f) => c.reference.has(f)).map((field) => {
    const expected = Array.from(c.reference.get(field)!, (x) => x ?? 0);
    const counts = Array.from({ length: expected.length }, (_, b) => c.window.get(field)?.[b] ?? 0);
    const rows = counts.reduce((a, b) => a + b, 0);
    return { field, psi: psi(counts, rows, expected, PSI_EPSILON), rows };
  });
}

/** The cluster's /metrics text with pm_input_drift_psi computed from the summed window counts. */
export function withClusterDrift(text: string): string {
  const fields = psiPerField(parse(text));
  if (fields.length === 0) return text;
  const lines = [
    '# HELP pm_input_drift_psi Population Stability Index of each reading over the drift window against training, from the window counts summed over workers.',
    '# TYPE pm_input_drift_psi gauge',
    ...fields.map((f) => `pm_input_drift_psi{field="${f.field}"} ${f.psi}`),
  ];
  return `${text.replace(/\n*$/, '\n')}${lines.join('\n')}\n`;
}

/**
 * modelInfo.drift for the whole cluster, from its aggregated /metrics text; `reference` is the model's
 * training side (model.json drift: anomalyRate, classMix), the same in every worker.
 */
export function clusterDriftSnapshot(
  text: string,
  settings: DriftSettings,
  reference: { anomalyRate: number; classMix: Record<FailureTypeName, number> } | undefined,
): DriftSnapshot {
  const counts = parse(text);
  const fields = psiPerField(counts);
  const windowRows = fields[0]?.rows ?? 0;
  return {
    windowRows,
    rowsSeen: counts.seen.get(NUMERIC_FIELDS[0]) ?? 0,
    fields: NUMERIC_FIELDS.map((field) => {
      const f = fields.find((x) => x.field === field);
      return { field, psi: f?.psi ?? 0, status: f ? driftStatus(f.psi, windowRows, settings) : 'INSUFFICIENT_DATA' };
    }),
    anomalyRate: windowRows > 0 ? counts.anomalies / windowRows : 0,
    trainingAnomalyRate: reference?.anomalyRate ?? 0,
    classMix: FAILURE_TYPES.map((failureType) => ({
      failureType,
      live: windowRows > 0 ? (counts.classes.get(failureType) ?? 0) / windowRows : 0,
      training: reference?.classMix[failureType] ?? 0,
    })),
  };
}
