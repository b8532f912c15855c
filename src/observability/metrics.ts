import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorCode } from '../errors';
import type { BatcherHooks, DropReason } from '../inference/batcher';
import type { DriftMonitor } from '../inference/drift';
import type { InferenceService } from '../inference/inference.service';
import type { ModelObserver } from '../inference/model-host';
import { SHADOW_DROP_REASONS } from '../inference/shadow-scorer';
import { DriftMetrics } from './drift-metrics';

/** The rate-limit budgets a refusal can be counted against (`requests`: for a per-request limit at the HTTP edge). */
export type RateLimitBudget = 'operations' | 'rows' | 'requests';
export const RATE_LIMIT_BUDGETS: readonly RateLimitBudget[] = ['operations', 'rows', 'requests'];
const DROP_REASONS: readonly DropReason[] = ['disconnected', 'deadline'];
/** The shadow model's comparison counters (docs/shadow.md). */
function shadowCounters(registry: Registry) {
  const registers = [registry];
  return {
    rows: new Counter({
      name: 'pm_shadow_rows_total',
      help: 'Rows scored by the shadow model and compared with the primary answer.',
      registers,
    }),
    disagreements: new Counter({
      name: 'pm_shadow_disagreements_total',
      help: 'Compared rows whose predicted failure type differs, by the primary and the shadow answer.',
      labelNames: ['primary', 'shadow'] as const,
      registers,
    }),
    droppedRows: new Counter({
      name: 'pm_shadow_dropped_rows_total',
      help: 'Sampled rows the shadow never compared: queue_full, deadline (waited past MAX_QUEUE_WAIT_MS), failed, withdrawn (shadow replaced).',
      labelNames: ['reason'] as const,
      registers,
    }),
  };
}

/** Label value for operations whose root field is not one of the schema's (parse errors, introspection). */
export const OTHER_ROOT_FIELD = 'other';

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** Bounded `outcome` label: `ok`, a catalogued error code, else INTERNAL_SERVER_ERROR. */
export function outcomeLabel(code: unknown): string {
  if (code === undefined) return 'ok';
  return typeof code === 'string' && KNOWN_CODES.has(code) ? code : ErrorCode.INTERNAL_SERVER_ERROR;
}

export interface MetricsOptions {
  /** Node's process metrics (CPU, memory, event-loop lag, GC). Default true. */
  defaultMetrics?: boolean;
}

/**
 * The service's Prometheus metrics, in a registry of its own (not prom-client's global one, so several
 * servers can live in one process, as in the tests). Histograms rather than summaries, so that the
 * series of several workers or replicas can be summed. Every label value comes from a fixed set.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly operations: Counter<'root_field' | 'outcome'>;
  readonly operationDuration: Histogram<'root_field'>;
  readonly inferenceRuns: Counter;
  readonly inferenceRows: Counter;
  readonly batchRows: Histogram;
  readonly runDuration: Histogram;
  readonly queueRows: Gauge;
  readonly queueWait: Histogram;
  readonly rateLimitRefusals: Counter<'budget'>;
  readonly modelInfo: Gauge<'version' | 'device' | 'role'>;
  private readonly shadow = shadowCounters(this.registry);
  /** The models pm_model_info reports, by role. */
  private serving: { primary?: InferenceService; shadow?: InferenceService } = {};
  readonly modelReloads: Counter<'outcome'>;
  readonly droppedRows: Counter<'reason'>;
  readonly largeBodyBytes: Gauge;
  readonly largeBodyRefusals: Counter;
  private readonly drift: DriftMetrics;
  /** Spans the tracing SDK could not deliver (src/observability/tracing-sdk.ts). */
  readonly traceSpansDropped = new Counter({
    name: 'pm_trace_spans_dropped_total',
    help: 'Finished spans never delivered to the collector: queue_full (OTEL_BSP_MAX_QUEUE_SIZE reached) or export_failed.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** Reads the bytes of large bodies in flight when scraped (the App's bulk lane). */
  private largeBodiesInFlight: () => number = () => 0;
  /** In a cluster worker: answers /metrics with every worker's series (see src/cluster.ts). */
  private aggregate: (() => Promise<string>) | undefined;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.operations = new Counter({
      name: 'pm_graphql_operations_total',
      help: 'GraphQL operations by root field (or "other") and outcome ("ok" or the error code).',
      labelNames: ['root_field', 'outcome'],
      registers,
    });
    this.operationDuration = new Histogram({
      name: 'pm_graphql_operation_duration_seconds',
      help: 'Time from receiving a GraphQL operation to its response, by root field.',
      labelNames: ['root_field'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.inferenceRuns = new Counter({ name: 'pm_inference_runs_total', help: 'ONNX runs.', registers });
    this.inferenceRows = new Counter({ name: 'pm_inference_rows_total', help: 'Readings scored by ONNX runs.', registers });
    this.batchRows = new Histogram({
      name: 'pm_inference_batch_rows',
      help: 'Rows per ONNX run.',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
      registers,
    });
    this.runDuration = new Histogram({
      name: 'pm_inference_run_duration_seconds',
      help: 'Duration of one ONNX run.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.queueRows = new Gauge({ name: 'pm_inference_queue_rows', help: 'Rows waiting for or in an ONNX run.', registers });
    this.queueWait = new Histogram({
      name: 'pm_inference_queue_wait_seconds',
      help: 'Time a row waited in the queue before its run.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.rateLimitRefusals = new Counter({
      name: 'pm_rate_limit_refusals_total',
      help: 'Calls refused by a rate-limit budget (operations, rows, requests).',
      labelNames: ['budget'],
      registers,
    });
    this.modelInfo = new Gauge({
      name: 'pm_model_info',
      help: 'The models loaded: 1 for each version and device, by role (primary answers; shadow is compared, docs/shadow.md).',
      labelNames: ['version', 'device', 'role'],
      // Summed over workers it would read 2, 3...; every worker serving it still means "1: serving".
      aggregator: 'max',
      registers,
    });
    this.modelReloads = new Counter({
      name: 'pm_model_reloads_total',
      help: 'Model reloads by outcome: ok (switched) or refused (a check failed; the old model kept serving).',
      labelNames: ['outcome'],
      registers,
    });
    this.droppedRows = new Counter({
      name: 'pm_inference_dropped_rows_total',
      help: 'Rows that left the queue without a run: client disconnected, or waited past MAX_QUEUE_WAIT_MS.',
      labelNames: ['reason'],
      registers,
    });
    const inFlight = () => this.largeBodiesInFlight();
    this.largeBodyBytes = new Gauge({
      name: 'pm_http_large_body_bytes',
      help: 'Bytes of large request bodies (64 KiB and more) admitted and not yet answered; the limit is LARGE_BODIES_MAX_BYTES.',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    this.largeBodyRefusals = new Counter({
      name: 'pm_http_large_body_refusals_total',
      help: 'Large request bodies refused with 503 because LARGE_BODIES_MAX_BYTES were already in flight.',
      registers,
    });
    this.drift = new DriftMetrics(this.registry);
    this.startAtZero();
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Known label values start at 0, so a rate() over them works before the first event. */
  private startAtZero(): void {
    for (const budget of RATE_LIMIT_BUDGETS) this.rateLimitRefusals.inc({ budget }, 0);
    for (const reason of DROP_REASONS) this.droppedRows.inc({ reason }, 0);
    for (const outcome of ['ok', 'refused']) this.modelReloads.inc({ outcome }, 0);
    for (const reason of SHADOW_DROP_REASONS) this.shadow.droppedRows.inc({ reason }, 0);
    for (const reason of ['queue_full', 'export_failed']) this.traceSpansDropped.inc({ reason }, 0);
  }

  /** Hooks for the row batcher of every inference service. */
  inferenceHooks(): BatcherHooks {
    return {
      onRun: (rows, seconds) => {
        this.inferenceRuns.inc();
        this.inferenceRows.inc(rows);
        this.batchRows.observe(rows);
        this.runDuration.observe(seconds);
      },
      onQueueWait: (seconds, rows) => {
        for (let i = 0; i < rows; i++) this.queueWait.observe(seconds);
      },
      onQueueChange: (delta) => this.queueRows.inc(delta),
      onDrop: (reason, rows) => this.droppedRows.inc({ reason }, rows),
    };
  }

  /** Tells pm_model_info and pm_model_reloads_total about the models a ModelHost serves. */
  modelObserver(): ModelObserver {
    return {
      inference: this.inferenceHooks(),
      serving: (service) => {
        this.serving.primary = service;
        this.reportModels();
      },
      shadow: (scorer) => {
        this.serving.shadow = scorer?.service;
        this.reportModels();
      },
      shadowHooks: {
        onCompared: (rows, disagreements) => {
          this.shadow.rows.inc(rows);
          for (const [primary, shadow, n] of disagreements) this.shadow.disagreements.inc({ primary, shadow }, n);
        },
        onDrop: (reason, rows) => this.shadow.droppedRows.inc({ reason }, rows),
      },
      reloaded: (outcome) => this.modelReloads.inc({ outcome }),
    };
  }

  private reportModels(): void {
    this.modelInfo.reset();
    for (const role of ['primary', 'shadow'] as const) {
      const service = this.serving[role];
      if (service) this.modelInfo.set({ version: service.manifest.version, device: service.device, role }, 1);
    }
  }

  /** One operation answered: root field (already bounded), outcome label, duration. */
  recordOperation(rootField: string, outcome: string, seconds: number): void {
    this.operations.inc({ root_field: rootField, outcome });
    this.operationDuration.observe({ root_field: rootField }, seconds);
  }

  /** Where pm_http_large_body_bytes reads from (the App's bulk lane). */
  watchLargeBodies(bytesInFlight: () => number): void {
    this.largeBodiesInFlight = bytesInFlight;
  }

  /** Where the drift metrics read from. */
  watchDrift(monitor: DriftMonitor): void {
    this.drift.watch(monitor);
  }

  rateLimitRefused(budget: RateLimitBudget): void {
    this.rateLimitRefusals.inc({ budget });
  }

  /** Serves these metrics through `aggregate` instead (a cluster worker asks the primary for every worker's). */
  useAggregate(aggregate: () => Promise<string>): void {
    this.aggregate = aggregate;
  }

  /** What GET /metrics answers: Prometheus text format. */
  async metricsText(): Promise<{ contentType: string; body: string }> {
    const body = this.aggregate ? await this.aggregate() : await this.registry.metrics();
    return { contentType: this.registry.contentType, body };
  }
}
