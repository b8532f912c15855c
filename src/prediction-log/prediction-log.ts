import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { PredictionLogConfig } from '../config';
import { toRecord, type LoggedPrediction, type PredictionLogEntry, type PredictionRecord } from './record';
import { FileWriter, RedisWriter, type SinkWriter } from './sinks';

export type DropReason = 'buffer_full' | 'sink_error' | 'sink_down';

/** How often a sink that is down is tried again while records wait. */
const RETRY_MS = 250;

/**
 * The prediction log: served predictions, appended by reference on the request path (O(1) per call:
 * no serialization, no I/O), turned into records and written in batches from a setImmediate, one batch
 * in flight at a time. Whatever arrives while a batch is written joins the next one, so batches grow
 * with load by themselves.
 *
 * The log never blocks or fails a prediction. At most `bufferRecords` records wait or are being
 * written; past that, new ones are dropped and counted (`buffer_full`). A batch the sink refuses is
 * dropped and counted (`sink_error`). While the sink is down (Redis unreachable) records wait in the
 * buffer and the sink is tried every 250 ms; the change of state is logged once each way. So every
 * appended record ends up in exactly one of pm_prediction_log_records_total and
 * pm_prediction_log_dropped_total, and `close()` (the App's stop, after the last request) writes what
 * is left before the process exits.
 */
export class PredictionLog {
  private pending: PredictionLogEntry[] = [];
  private pendingRows = 0;
  private inFlightRows = 0;
  private scheduled = false;
  private writing: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private state: 'up' | 'down' = 'up';
  private closed = false;
  /**
   * The entry each primary row was appended in, while a shadow model is compared (`joinShadowAnswers`):
   * its answers are logged under the same request. Weak, so rows leave with their answers.
   */
  private readonly origins = new WeakMap<LoggedPrediction, PredictionLogEntry>();
  /** Set by ModelHost when it pairs a shadow model with the primary. */
  joinShadowAnswers = false;
  private readonly written: Counter;
  private readonly dropped: Counter<'reason'>;

  private constructor(
    private readonly writer: SinkWriter,
    private readonly bufferRecords: number,
    private readonly logger: Logger,
    registry: Registry | undefined,
  ) {
    const registers = registry ? [registry] : [];
    this.written = new Counter({
      name: 'pm_prediction_log_records_total',
      help: 'Prediction records written to the prediction log (PREDICTION_LOG).',
      registers,
    });
    this.dropped = new Counter({
      name: 'pm_prediction_log_dropped_total',
      help: 'Prediction records not written: buffer_full (the sink could not keep up), sink_error (the sink refused a batch), sink_down (unreachable at shutdown).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['buffer_full', 'sink_error', 'sink_down'] satisfies DropReason[]) this.dropped.inc({ reason }, 0);
  }

  /** undefined for PREDICTION_LOG=off. `registry`: where its two counters are exported (the Metrics registry). */
  static async create(
    config: PredictionLogConfig,
    logger: Logger,
    registry?: Registry,
    workerId?: number,
  ): Promise<PredictionLog | undefined> {
    const sink = config.sink;
    if (sink.kind === 'off') return undefined;
    // The Redis client reports errors from the start; they reach the log once it exists.
    const target: { log?: PredictionLog } = {};
    const onError = (message: string) => target.log?.markDown(message);
    const writer =
      sink.kind === 'file'
        ? // Cluster workers each write a file of their own: rotation by rename cannot be shared between processes.
          await FileWriter.create(workerId === undefined ? sink.path : `${sink.path}.w${workerId}`, sink.maxBytes)
        : new RedisWriter(sink.url, sink.stream, sink.maxRecords, onError);
    const log = new PredictionLog(writer, config.bufferRecords, logger, registry);
    target.log = log;
    logger.info(
      { sink: sink.kind, ...(sink.kind === 'file' ? { file: (writer as FileWriter).file } : { stream: sink.stream }) },
      'prediction log on',
    );
    return log;
  }

  /** A log over a writer made elsewhere (the unit tests' fake sink); `create` builds the writer from the configuration. */
  static withWriter(writer: SinkWriter, bufferRecords: number, logger: Logger, registry?: Registry): PredictionLog {
    return new PredictionLog(writer, bufferRecords, logger, registry);
  }

  /** Records waiting or being written (at most PREDICTION_LOG_BUFFER_RECORDS). */
  get buffered(): number {
    return this.pendingRows + this.inFlightRows;
  }

  /** Takes one call's predictions; never throws, never waits. */
  append(entry: PredictionLogEntry): void {
    const rows = entry.rows.length;
    if (this.closed || this.pendingRows + this.inFlightRows + rows > this.bufferRecords) {
      this.dropped.inc({ reason: 'buffer_full' }, rows);
      return;
    }
    this.pending.push(entry);
    this.pendingRows += rows;
    if (this.joinShadowAnswers && entry.role === 'primary') for (const row of entry.rows) this.origins.set(row, entry);
    if (!this.scheduled && this.writing === undefined) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  /**
   * A shadow model's answers for rows the primary answered (same order), as `shadow` records with the
   * shadow's version under each primary row's id and request. Rows whose primary record was not
   * appended (its call named no request, or it was dropped) have nothing to join and are left out.
   */
  appendShadow(primary: readonly LoggedPrediction[], shadow: readonly Omit<LoggedPrediction, 'id'>[], version: string): void {
    let origin: PredictionLogEntry | undefined;
    let rows: LoggedPrediction[] = [];
    const flush = () => {
      if (origin !== undefined && rows.length > 0) {
        this.append({ requestId: origin.requestId, traceId: origin.traceId, role: 'shadow', rows, outOfRange: origin.outOfRange });
      }
    };
    for (let i = 0; i < primary.length; i++) {
      const from = this.origins.get(primary[i]);
      if (from !== origin) {
        flush();
        origin = from;
        rows = [];
      }
      if (from === undefined) continue;
      const s = shadow[i];
      rows.push({
        id: primary[i].id,
        reading: primary[i].reading,
        predictedFailureType: s.predictedFailureType,
        probabilities: s.probabilities,
        reconstructionError: s.reconstructionError,
        isAnomaly: s.isAnomaly,
        modelVersion: version,
      });
    }
    flush();
  }

  /** Writes everything buffered, then releases the sink. Appends after this are dropped (counted). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retry);
    await this.writing;
    if (this.pendingRows > 0) {
      if (this.writer.available) await this.flush();
      else this.drop(this.takePending().length, 'sink_down');
    }
    await this.writer.close().catch(() => undefined);
  }

  private readonly flushSoon = (): void => {
    this.scheduled = false;
    void this.flush();
  };

  private flush(): Promise<void> {
    if (this.writing) return this.writing;
    if (this.pendingRows === 0) return Promise.resolve();
    if (!this.writer.available) {
      // Not logged here: a sink still connecting at start is not down; the sink's own errors are.
      this.retryLater();
      return Promise.resolve();
    }
    const records = this.takePending();
    this.inFlightRows = records.length;
    this.writing = this.writeBatch(records).finally(() => {
      this.inFlightRows = 0;
      this.writing = undefined;
      // What arrived meanwhile goes next, unless close() is about to take it.
      if (this.pendingRows > 0 && !this.closed) void this.flush();
    });
    return this.writing;
  }

  private async writeBatch(records: PredictionRecord[]): Promise<void> {
    try {
      const stored = await this.writer.write(records);
      this.written.inc(stored);
      if (stored < records.length) this.drop(records.length - stored, 'sink_error');
      this.markUp();
    } catch (err) {
      this.drop(records.length, 'sink_error');
      this.markDown((err as Error).message);
    }
  }

  private takePending(): PredictionRecord[] {
    const entries = this.pending;
    this.pending = [];
    this.pendingRows = 0;
    const records: PredictionRecord[] = [];
    for (const entry of entries) for (const row of entry.rows) records.push(toRecord(entry, row));
    return records;
  }

  private drop(count: number, reason: DropReason): void {
    if (count > 0) this.dropped.inc({ reason }, count);
  }

  private retryLater(): void {
    if (this.retry !== undefined || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.flush();
    }, RETRY_MS);
    // A sink that stays down must not keep the process alive.
    this.retry.unref();
  }

  private markDown(reason: string): void {
    if (this.state === 'down') return;
    this.state = 'down';
    this.logger.error(
      { sink: this.writer.kind, reason },
      'prediction log sink unavailable; records wait in the buffer, then are dropped and counted',
    );
  }

  private markUp(): void {
    if (this.state === 'up') return;
    this.state = 'up';
    this.logger.info({ sink: this.writer.kind }, 'prediction log sink back; writing resumed');
  }
}
