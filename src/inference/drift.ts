import { NUMERIC_FIELDS, type NumericField } from './explanation';
import { FAILURE_TYPES, type FailureTypeName, type Reading } from './model-io';

/** model.json `drift` (written by training/drift.py): what live inputs are compared with. */
export interface DriftReference {
  rows: number;
  psiEpsilon: number;
  /** Per numeric reading, in NUMERIC_FIELDS order: bin i holds values v with i = number of edges <= v. */
  fields: Array<{ field: NumericField; edges: number[]; fractions: number[] }>;
  classMix: Record<FailureTypeName, number>;
  /** Share of normal training readings the VAE flags. */
  anomalyRate: number;
}

/** DRIFT_* settings (src/config.ts). */
export interface DriftSettings {
  enabled: boolean;
  windowRows: number;
  maxAgeMs: number;
  minRows: number;
  psiModerate: number;
  psiSignificant: number;
}

export type DriftStatusName = 'INSUFFICIENT_DATA' | 'NONE' | 'MODERATE' | 'SIGNIFICANT';

/**
 * Floor of both shares in PSI, so an empty bin adds a large finite term instead of infinity. One value
 * for every model (training writes it into model.json as psiEpsilon, checked at load), so that a cluster
 * recomputing PSI from summed counts uses the same one.
 */
export const PSI_EPSILON = 1e-4;

/** Bins are indexed by a Uint8Array: far more than the 10-20 quantile bins training writes. */
export const MAX_BINS = 64;
const FIELDS = NUMERIC_FIELDS.length;

/**
 * Why a `drift` section is unusable, or undefined when it is fine. Checked at model load: a section
 * that is present but malformed stops the load (like any other manifest error); an absent one only
 * turns drift off for that model (see model-manifest.ts).
 */
export function driftReferenceProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'must be an object';
  const d = value as Partial<DriftReference>;
  if (d.psiEpsilon !== PSI_EPSILON) return `"psiEpsilon" must be ${PSI_EPSILON} (the server's)`;
  if (!(typeof d.anomalyRate === 'number' && d.anomalyRate >= 0 && d.anomalyRate <= 1)) return '"anomalyRate" must be a number in [0, 1]';
  if (!Array.isArray(d.fields) || d.fields.map((f) => f?.field).join() !== NUMERIC_FIELDS.join()) {
    return `"fields" must list ${NUMERIC_FIELDS.join(', ')} in that order`;
  }
  for (const f of d.fields) {
    const { edges, fractions } = f;
    if (!Array.isArray(edges) || !Array.isArray(fractions) || fractions.length !== edges.length + 1 || fractions.length > MAX_BINS) {
      return `"fields" entry ${f.field} needs "edges" and one more "fractions" (at most ${MAX_BINS} bins)`;
    }
    if (edges.some((e, i) => !Number.isFinite(e) || (i > 0 && e <= edges[i - 1])))
      return `"fields" entry ${f.field}: "edges" must increase strictly`;
    const sum = fractions.reduce((a, b) => a + b, 0);
    if (fractions.some((x) => !(x >= 0 && x <= 1)) || Math.abs(sum - 1) > 1e-3) {
      return `"fields" entry ${f.field}: "fractions" must lie in [0, 1] and sum to 1`;
    }
  }
  const mix = d.classMix as Record<string, unknown> | undefined;
  if (typeof mix !== 'object' || mix === null || FAILURE_TYPES.some((t) => typeof mix[t] !== 'number')) {
    return `"classMix" must give a share for each of ${FAILURE_TYPES.join(', ')}`;
  }
  return undefined;
}

/** The bin of `value`: the number of edges <= value (binary search; the first and last bins are open). */
export function binOf(edges: Float64Array, value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Population Stability Index of `counts` (live rows per bin, `total` of them) against the training
 * `expected` fractions: sum over bins of (a - e) * ln(a / e), a = live share, e = training share, both
 * floored at `epsilon` so an empty bin adds a large but finite term instead of infinity.
 */
export function psi(counts: ArrayLike<number>, total: number, expected: ArrayLike<number>, epsilon: number): number {
  if (total <= 0) return 0;
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = Math.max(counts[i] / total, epsilon);
    const e = Math.max(expected[i], epsilon);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** The rule of thumb from credit scoring: PSI < 0.1 no shift, < 0.25 moderate, else significant. */
export function driftStatus(
  psiValue: number,
  rows: number,
  s: Pick<DriftSettings, 'minRows' | 'psiModerate' | 'psiSignificant'>,
): DriftStatusName {
  if (rows < s.minRows) return 'INSUFFICIENT_DATA';
  if (psiValue < s.psiModerate) return 'NONE';
  if (psiValue < s.psiSignificant) return 'MODERATE';
  return 'SIGNIFICANT';
}

/** What the window holds now; `counts[f * MAX_BINS + b]` are the rows of field f in bin b. */
export interface DriftCounts {
  windowRows: number;
  anomalies: number;
  counts: Uint32Array;
  classCounts: Uint32Array;
}

export interface FieldDrift {
  field: NumericField;
  psi: number;
  status: DriftStatusName;
}

export interface DriftSnapshot {
  windowRows: number;
  rowsSeen: number;
  fields: FieldDrift[];
  anomalyRate: number;
  trainingAnomalyRate: number;
  /** Live share of each predicted failure type in the window, and training's. */
  classMix: Array<{ failureType: FailureTypeName; live: number; training: number }>;
}

/** The served row as drift sees it: its reading, predicted type and anomaly flag. */
export interface ServedRow {
  readonly reading: Reading;
  readonly predictedFailureType: FailureTypeName;
  readonly isAnomaly: boolean;
}

const CLASS_INDEX = new Map<string, number>(FAILURE_TYPES.map((t, i) => [t, i]));

/**
 * The sliding window of the most recent served rows of this process, and the bin counts over it.
 * Every array is allocated once: a row costs one binary search per field and a few typed-array writes,
 * and leaving the window (by count or by age) subtracts what its ring slot recorded. Totals since start
 * (for the Prometheus counters) are kept beside the window.
 */
export class DriftMonitor {
  private reference: DriftReference | undefined;
  private edges: Float64Array[] = [];
  private expected: Float64Array[] = [];
  /** Ring of the window's rows: bins (FIELDS per row), class index, anomaly flag, arrival time. */
  private readonly ringBins: Uint8Array;
  private readonly ringClass: Uint8Array;
  private readonly ringAnomaly: Uint8Array;
  private readonly ringTime: Float64Array;
  private head = 0;
  private size = 0;
  private readonly window: DriftCounts;
  /** Since start (never decremented): pm_input_bin_rows_total and friends. */
  readonly totals = { bins: new Float64Array(FIELDS * MAX_BINS), classes: new Float64Array(FAILURE_TYPES.length), anomalies: 0, rows: 0 };

  constructor(
    readonly settings: DriftSettings,
    private readonly now: () => number = Date.now,
  ) {
    const n = settings.enabled ? settings.windowRows : 0;
    this.ringBins = new Uint8Array(n * FIELDS);
    this.ringClass = new Uint8Array(n);
    this.ringAnomaly = new Uint8Array(n);
    this.ringTime = new Float64Array(n);
    this.window = {
      windowRows: 0,
      anomalies: 0,
      counts: new Uint32Array(FIELDS * MAX_BINS),
      classCounts: new Uint32Array(FAILURE_TYPES.length),
    };
  }

  /** The model's reference; a different one (a reload to another model) empties the window. */
  useReference(reference: DriftReference | undefined): void {
    if (reference && this.reference && JSON.stringify(reference.fields) === JSON.stringify(this.reference.fields)) {
      this.reference = reference;
      return;
    }
    this.reference = reference;
    this.edges = reference ? reference.fields.map((f) => Float64Array.from(f.edges)) : [];
    this.expected = reference ? reference.fields.map((f) => Float64Array.from(f.fractions)) : [];
    this.clear();
  }

  get referenceInUse(): DriftReference | undefined {
    return this.reference;
  }

  /** Counts the rows of one answered call (never explanation variants). */
  record(rows: readonly ServedRow[]): void {
    if (!this.active) return;
    const t = this.now();
    this.expire(t);
    for (let r = 0; r < rows.length; r++) this.add(rows[r], t);
    this.window.windowRows = this.size;
  }

  /** `record([row])` without the array (a single `predict`). */
  recordOne(row: ServedRow): void {
    if (!this.active) return;
    const t = this.now();
    this.expire(t);
    this.add(row, t);
    this.window.windowRows = this.size;
  }

  private get active(): boolean {
    return this.settings.enabled && this.reference !== undefined && this.ringClass.length > 0;
  }

  private add(row: ServedRow, t: number): void {
    const capacity = this.ringClass.length;
    const { counts, classCounts } = this.window;
    const totals = this.totals;
    if (this.size === capacity) this.evictOldest();
    const slot = (this.head + this.size) % capacity;
    const reading = row.reading;
    for (let f = 0; f < FIELDS; f++) {
      const bin = binOf(this.edges[f], reading[NUMERIC_FIELDS[f]]);
      this.ringBins[slot * FIELDS + f] = bin;
      counts[f * MAX_BINS + bin]++;
      totals.bins[f * MAX_BINS + bin]++;
    }
    const cls = CLASS_INDEX.get(row.predictedFailureType) ?? 0;
    this.ringClass[slot] = cls;
    classCounts[cls]++;
    totals.classes[cls]++;
    const anomaly = row.isAnomaly ? 1 : 0;
    this.ringAnomaly[slot] = anomaly;
    this.window.anomalies += anomaly;
    totals.anomalies += anomaly;
    this.ringTime[slot] = t;
    this.size++;
    totals.rows++;
  }

  /** The window's counts after dropping rows older than DRIFT_WINDOW_MAX_AGE (shared arrays: read, don't keep). */
  counts(): DriftCounts {
    this.expire(this.now());
    this.window.windowRows = this.size;
    return this.window;
  }

  /** PSI per field of the window (0 where there is no reference or no row). */
  psiPerField(): number[] {
    const w = this.counts();
    return NUMERIC_FIELDS.map((_, f) =>
      this.reference
        ? psi(w.counts.subarray(f * MAX_BINS, f * MAX_BINS + this.expected[f].length), w.windowRows, this.expected[f], PSI_EPSILON)
        : 0,
    );
  }

  snapshot(): DriftSnapshot {
    const psis = this.psiPerField();
    const w = this.window;
    const rows = w.windowRows;
    const ref = this.reference;
    return {
      windowRows: rows,
      rowsSeen: this.totals.rows,
      fields: NUMERIC_FIELDS.map((field, f) => ({
        field,
        psi: psis[f],
        status: ref ? driftStatus(psis[f], rows, this.settings) : 'INSUFFICIENT_DATA',
      })),
      anomalyRate: rows > 0 ? w.anomalies / rows : 0,
      trainingAnomalyRate: ref?.anomalyRate ?? 0,
      classMix: FAILURE_TYPES.map((failureType, i) => ({
        failureType,
        live: rows > 0 ? w.classCounts[i] / rows : 0,
        training: ref?.classMix[failureType] ?? 0,
      })),
    };
  }

  private expire(now: number): void {
    const oldest = now - this.settings.maxAgeMs;
    while (this.size > 0 && this.ringTime[this.head] < oldest) this.evictOldest();
  }

  private evictOldest(): void {
    const slot = this.head;
    const { counts, classCounts } = this.window;
    for (let f = 0; f < FIELDS; f++) counts[f * MAX_BINS + this.ringBins[slot * FIELDS + f]]--;
    classCounts[this.ringClass[slot]]--;
    this.window.anomalies -= this.ringAnomaly[slot];
    this.head = (this.head + 1) % this.ringClass.length;
    this.size--;
  }

  private clear(): void {
    this.head = 0;
    this.size = 0;
    this.window.windowRows = 0;
    this.window.anomalies = 0;
    this.window.counts.fill(0);
    this.window.classCounts.fill(0);
  }
}
