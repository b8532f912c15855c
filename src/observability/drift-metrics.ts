import { Counter, Gauge, type Registry } from 'prom-client';
import { MAX_BINS, type DriftMonitor } from '../inference/drift';
import { NUMERIC_FIELDS } from '../inference/explanation';
import { FAILURE_TYPES } from '../inference/model-io';

/**
 * The drift series (docs/monitoring.md). They are read from the DriftMonitor when scraped, so counting
 * stays out of prom-client's label lookups on the hot path.
 */
export class DriftMetrics {
  private readonly psi: Gauge<'field'>;
  private readonly inputBinRows: Counter<'field' | 'bin'>;
  private readonly windowBinRows: Gauge<'field' | 'bin'>;
  private readonly referenceBinRatio: Gauge<'field' | 'bin'>;
  private readonly windowAnomalies: Gauge;
  private readonly windowFailureTypes: Gauge<'failure_type'>;
  private readonly predictedFailureTypes: Counter<'failure_type'>;
  private readonly anomalies: Counter;
  private monitor: DriftMonitor | undefined;
  /** Totals already handed to the counters (they only go up, so a scrape adds the difference). */
  private readonly exported = {
    bins: new Float64Array(NUMERIC_FIELDS.length * MAX_BINS),
    classes: new Float64Array(FAILURE_TYPES.length),
    anomalies: 0,
  };

  constructor(registry: Registry) {
    const registers = [registry];
    const self = () => this;
    this.psi = new Gauge({
      name: 'pm_input_drift_psi',
      help: 'Population Stability Index of each reading over the drift window against training (0 below DRIFT_MIN_ROWS rows is not a verdict: see pm_input_window_rows).',
      labelNames: ['field'],
      // Per-worker PSIs cannot be summed; in a cluster the primary recomputes it from the summed window counts.
      aggregator: 'omit',
      registers,
      collect() {
        self().collect();
      },
    });
    this.inputBinRows = new Counter({
      name: 'pm_input_bin_rows_total',
      help: 'Served readings per reading field and training quantile bin (model.json drift.fields), since start.',
      labelNames: ['field', 'bin'],
      registers,
    });
    this.windowBinRows = new Gauge({
      name: 'pm_input_window_rows',
      help: 'Readings per field and bin in the drift window now (DRIFT_WINDOW_ROWS, DRIFT_WINDOW_MAX_AGE); summed over workers.',
      labelNames: ['field', 'bin'],
      registers,
    });
    this.referenceBinRatio = new Gauge({
      name: 'pm_input_bin_reference_ratio',
      help: 'Training share of each field and bin (model.json drift.fields): what PSI compares with.',
      labelNames: ['field', 'bin'],
      aggregator: 'max',
      registers,
    });
    this.windowAnomalies = new Gauge({
      name: 'pm_input_window_anomalies',
      help: 'Readings in the drift window flagged isAnomaly; summed over workers (divide by the window rows for the rate).',
      registers,
    });
    this.windowFailureTypes = new Gauge({
      name: 'pm_input_window_failure_types',
      help: 'Readings in the drift window per predicted failure type (the live class mix); summed over workers.',
      labelNames: ['failure_type'],
      registers,
    });
    this.predictedFailureTypes = new Counter({
      name: 'pm_predicted_failure_types_total',
      help: 'Served predictions by predicted failure type.',
      labelNames: ['failure_type'],
      registers,
    });
    this.anomalies = new Counter({ name: 'pm_anomalies_total', help: 'Served predictions with isAnomaly true.', registers });
    // Known label values start at 0, so a rate() over them works before the first event.
    for (const failure_type of FAILURE_TYPES) this.predictedFailureTypes.inc({ failure_type }, 0);
    this.anomalies.inc(0);
  }

  /** Where the series read from. */
  watch(monitor: DriftMonitor): void {
    this.monitor = monitor;
  }

  /** Brings the series up to date with the monitor (once per scrape, from pm_input_drift_psi's collect). */
  private collect(): void {
    const drift = this.monitor;
    const reference = drift?.referenceInUse;
    if (!drift || !reference) {
      // No reference (a reload to a model without model.json drift): nothing is measured, so no gauge may keep
      // the last model's values. The counters keep their totals.
      this.psi.reset();
      this.windowBinRows.reset();
      this.referenceBinRatio.reset();
      this.windowAnomalies.reset();
      this.windowFailureTypes.reset();
      return;
    }
    const { totals } = drift;
    const window = drift.counts();
    const psis = drift.psiPerField();
    this.windowBinRows.reset();
    this.referenceBinRatio.reset();
    reference.fields.forEach(({ field, fractions }, f) => {
      this.psi.set({ field }, psis[f]);
      for (let b = 0; b < fractions.length; b++) {
        const bin = String(b);
        const i = f * MAX_BINS + b;
        this.inputBinRows.inc({ field, bin }, totals.bins[i] - this.exported.bins[i]);
        this.exported.bins[i] = totals.bins[i];
        this.windowBinRows.set({ field, bin }, window.counts[i]);
        this.referenceBinRatio.set({ field, bin }, fractions[b]);
      }
    });
    FAILURE_TYPES.forEach((failure_type, i) => {
      this.predictedFailureTypes.inc({ failure_type }, totals.classes[i] - this.exported.classes[i]);
      this.exported.classes[i] = totals.classes[i];
      this.windowFailureTypes.set({ failure_type }, window.classCounts[i]);
    });
    this.windowAnomalies.set(window.anomalies);
    this.anomalies.inc(totals.anomalies - this.exported.anomalies);
    this.exported.anomalies = totals.anomalies;
  }
}
