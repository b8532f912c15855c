import { ErrorCode } from '../errors';
import type { Cancellation } from './batcher';
import type { InferenceService, PredictionResult } from './inference.service';
import { FAILURE_TYPES, type FailureTypeName, type Reading } from './model-io';

/** Why sampled rows were never compared. */
export type ShadowDropReason = 'queue_full' | 'deadline' | 'failed' | 'withdrawn';
export const SHADOW_DROP_REASONS: readonly ShadowDropReason[] = ['queue_full', 'deadline', 'failed', 'withdrawn'];

/** Counters of comparisons (metrics). Called on the event loop after a shadow run; keep them cheap. */
export interface ShadowHooks {
  /** `rows` rows compared; `disagreements` the pairs among them that differ (primary, shadow, rows). */
  onCompared?: (rows: number, disagreements: ReadonlyArray<readonly [FailureTypeName, FailureTypeName, number]>) => void;
  onDrop?: (reason: ShadowDropReason, rows: number) => void;
}

/**
 * Told about every shadow run: the rows, the shadow's answers for them, the shadow's version, and the
 * primary's answers for the same rows (the prediction log records the shadow's under the primary's ids).
 */
export type ShadowListener = (
  rows: readonly Reading[],
  outputs: readonly PredictionResult[],
  version: string,
  primary: readonly PredictionResult[],
) => void;

/** Exact sums since this primary/shadow pair began (summable across workers). */
export interface ShadowTotals {
  rowsCompared: number;
  sameFailureType: number;
  sameAnomaly: number;
  /** Sum over rows of the mean absolute difference of the six probabilities. */
  absProbabilityDeltaSum: number;
  /** "PRIMARY>SHADOW" -> rows, only pairs that differ. */
  disagreements: Record<string, number>;
}

export interface ShadowSummary {
  version: string;
  rowsCompared: number;
  agreement: number;
  anomalyAgreement: number;
  meanAbsProbabilityDelta: number;
  disagreements: Array<{ primary: FailureTypeName; shadow: FailureTypeName; rows: number }>;
}

export interface ShadowScorerOptions {
  sampleRate: number;
  /** Most sampled rows waiting for or in a shadow run; more are dropped (queue_full). */
  maxQueueRows: number;
  hooks?: ShadowHooks;
  listener?: ShadowListener;
  /** Uniform [0, 1) (tests may fix it). */
  random?: () => number;
}

/** A Cancellation the scorer fires when it is withdrawn: its rows still waiting leave the shadow's queue. */
class Withdrawal implements Cancellation {
  aborted = false;
  private listeners = new Set<() => void>();
  addEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.add(listener);
  }
  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.delete(listener);
  }
  fire(): void {
    this.aborted = true;
    for (const listener of [...this.listeners]) listener();
    this.listeners.clear();
  }
}

/**
 * Scores a sample of the primary's rows with a second model after the primary answered, and keeps
 * exact agreement statistics for this primary/shadow pair (a new pair starts a new scorer: stats reset).
 *
 * `offer` runs inside the primary's run, before its callers are resolved, so it only samples and
 * queues; the shadow's run starts from setImmediate, after the primary's answers are on their way. It
 * never throws to, waits on, or fails a caller: rows beyond `maxQueueRows` are dropped and counted.
 */
export class ShadowScorer {
  private readonly withdrawal = new Withdrawal();
  private readonly random: () => number;
  private readonly listener: ShadowListener | undefined;
  private pendingRows: Reading[] = [];
  private pendingPrimary: PredictionResult[] = [];
  private scheduled = false;
  private inFlight = 0;
  private withdrawn = false;
  private idleWaiters: Array<() => void> = [];
  private readonly totals: ShadowTotals = {
    rowsCompared: 0,
    sameFailureType: 0,
    sameAnomaly: 0,
    absProbabilityDeltaSum: 0,
    disagreements: {},
  };
  private readonly dropped: Record<ShadowDropReason, number> = { queue_full: 0, deadline: 0, failed: 0, withdrawn: 0 };

  constructor(
    readonly service: InferenceService,
    private readonly options: ShadowScorerOptions,
  ) {
    this.random = options.random ?? Math.random;
    this.listener = options.listener;
  }

  get version(): string {
    return this.service.manifest.version;
  }

  get sampleRate(): number {
    return this.options.sampleRate;
  }

  /** The primary answered `primary` for `rows` (same order): sample, queue, and schedule a shadow run. */
  offer(rows: readonly Reading[], primary: readonly PredictionResult[]): void {
    if (this.withdrawn) return;
    const rate = this.options.sampleRate;
    let taken = 0;
    let full = 0;
    for (let i = 0; i < rows.length; i++) {
      if (rate < 1 && this.random() >= rate) continue;
      if (this.inFlight >= this.options.maxQueueRows) {
        full++;
        continue;
      }
      this.pendingRows.push(rows[i]);
      this.pendingPrimary.push(primary[i]);
      this.inFlight++;
      taken++;
    }
    if (full > 0) this.drop('queue_full', full);
    if (taken > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Exact sums for this pair (a cluster worker sends these to be summed). */
  totalsSnapshot(): ShadowTotals {
    return { ...this.totals, disagreements: { ...this.totals.disagreements } };
  }

  summary(): ShadowSummary {
    return summarize(this.version, this.totalsSnapshot());
  }

  droppedRows(): Record<ShadowDropReason, number> {
    return { ...this.dropped };
  }

  /** Sampled rows queued or running in the shadow. */
  get queuedRows(): number {
    return this.inFlight;
  }

  /** Resolves once no sampled row is waiting or running (tests; a promotion). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops comparing: new rows are refused, rows still waiting leave the shadow's queue (counted as
   * withdrawn). Resolves once the shadow's batcher is idle, so its session may be promoted or released.
   */
  async withdraw(): Promise<void> {
    if (!this.withdrawn) {
      this.withdrawn = true;
      this.withdrawal.fire();
      const pending = this.pendingRows.length;
      this.pendingRows = [];
      // Stryker disable next-line ArrayDeclaration: equivalent, a withdrawn scorer queues no row again, so its flushes find no rows and never read this
      this.pendingPrimary = [];
      if (pending > 0) this.settle(pending, 'withdrawn');
    }
    await this.service.idle();
  }

  private flush(): void {
    this.scheduled = false;
    const rows = this.pendingRows;
    const primary = this.pendingPrimary;
    if (rows.length === 0) return;
    this.pendingRows = [];
    this.pendingPrimary = [];
    this.service.predictMany(rows, this.withdrawal).then(
      (shadow) => {
        if (!this.withdrawn) this.compare(primary, shadow);
        this.settle(rows.length);
        if (this.withdrawn || !this.listener) return;
        try {
          this.listener(rows, shadow, this.version, primary);
        } catch {
          // An observer (the prediction log) must not break the comparisons; it reports its own failures.
        }
      },
      (err: unknown) => this.settle(rows.length, dropReason(err, this.withdrawn)),
    );
  }

  private compare(primary: readonly PredictionResult[], shadow: readonly PredictionResult[]): void {
    const t = this.totals;
    const pairs = new Map<string, [FailureTypeName, FailureTypeName, number]>();
    for (let i = 0; i < primary.length; i++) {
      const p = primary[i];
      const s = shadow[i];
      if (p.predictedFailureType === s.predictedFailureType) t.sameFailureType++;
      else {
        const key = `${p.predictedFailureType}>${s.predictedFailureType}`;
        const pair = pairs.get(key);
        if (pair) pair[2]++;
        else pairs.set(key, [p.predictedFailureType, s.predictedFailureType, 1]);
      }
      if (p.isAnomaly === s.isAnomaly) t.sameAnomaly++;
      let delta = 0;
      for (let k = 0; k < p.probabilities.length; k++) delta += Math.abs(p.probabilities[k].probability - s.probabilities[k].probability);
      t.absProbabilityDeltaSum += delta / p.probabilities.length;
    }
    t.rowsCompared += primary.length;
    for (const [key, [, , rows]] of pairs) t.disagreements[key] = (t.disagreements[key] ?? 0) + rows;
    this.options.hooks?.onCompared?.(primary.length, [...pairs.values()]);
  }

  private settle(rows: number, reason?: ShadowDropReason): void {
    this.inFlight -= rows;
    if (reason) this.drop(reason, rows);
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private drop(reason: ShadowDropReason, rows: number): void {
    this.dropped[reason] += rows;
    this.options.hooks?.onDrop?.(reason, rows);
  }
}

function dropReason(err: unknown, withdrawn: boolean): ShadowDropReason {
  if (withdrawn) return 'withdrawn';
  const code = (err as { extensions?: { code?: unknown } } | undefined)?.extensions?.code;
  if (code === ErrorCode.SERVER_BUSY) {
    // Rows that waited past MAX_QUEUE_WAIT_MS: the shadow could not keep up.
    return (err as { extensions: { reason?: unknown } }).extensions.reason === 'QUEUE_WAIT' ? 'deadline' : 'queue_full';
  }
  return 'failed';
}

/** Ratios from exact sums; a pair with no rows compared reads as full agreement and no delta. */
export function summarize(version: string, t: ShadowTotals): ShadowSummary {
  const n = t.rowsCompared;
  const order = (name: string) => FAILURE_TYPES.indexOf(name as FailureTypeName);
  const disagreements = Object.entries(t.disagreements)
    .map(([key, rows]) => {
      const [primary, shadow] = key.split('>') as [FailureTypeName, FailureTypeName];
      return { primary, shadow, rows };
    })
    .sort((a, b) => b.rows - a.rows || order(a.primary) - order(b.primary) || order(a.shadow) - order(b.shadow));
  return {
    version,
    rowsCompared: n,
    agreement: n === 0 ? 1 : t.sameFailureType / n,
    anomalyAgreement: n === 0 ? 1 : t.sameAnomaly / n,
    meanAbsProbabilityDelta: n === 0 ? 0 : t.absProbabilityDeltaSum / n,
    disagreements,
  };
}

/** Adds `b`'s sums into `a` (a cluster's workers). */
export function addTotals(a: ShadowTotals, b: ShadowTotals): ShadowTotals {
  const disagreements = { ...a.disagreements };
  for (const [key, rows] of Object.entries(b.disagreements)) disagreements[key] = (disagreements[key] ?? 0) + rows;
  return {
    rowsCompared: a.rowsCompared + b.rowsCompared,
    sameFailureType: a.sameFailureType + b.sameFailureType,
    sameAnomaly: a.sameAnomaly + b.sameAnomaly,
    absProbabilityDeltaSum: a.absProbabilityDeltaSum + b.absProbabilityDeltaSum,
    disagreements,
  };
}
