import DataLoader from 'dataloader';
import { serverBusy } from '../errors';

export interface RowBatcherOptions<In, Out> {
  /** Runs one batch; must resolve to exactly one output per input, in order. */
  runBatch: (rows: readonly In[]) => Promise<Out[]>;
  /** Most rows in one run. Default 1,024. */
  maxBatchSize?: number;
  /**
   * Extra milliseconds to wait for more rows before a run. Default 0: a run starts as soon as the rows
   * that arrived in the current event-loop turn (every request whose bytes were read in this poll
   * phase) have been queued, which adds no latency when load is light.
   */
  maxWaitMs?: number;
  /** Most rows waiting or running; beyond it new work fails fast with SERVER_BUSY. Default 20,000. */
  maxQueueRows?: number;
}

export interface BatcherStats {
  runs: number;
  rows: number;
  failedRuns: number;
  queuedRows: number;
  meanRowsPerRun: number;
}

/**
 * Coalesces concurrent single rows and the rows of batch calls into shared runs of at most
 * `maxBatchSize` rows. DataLoader (cache off) does the grouping and the fan-out of results and errors;
 * this class adds the queue bound, the scheduling and the statistics.
 */
export class RowBatcher<In, Out> {
  private readonly loader: DataLoader<In, Out, In>;
  private readonly maxQueueRows: number;
  private queued = 0;
  private runs = 0;
  private rows = 0;
  private failedRuns = 0;

  constructor(private readonly options: RowBatcherOptions<In, Out>) {
    const maxWaitMs = options.maxWaitMs ?? 0;
    this.maxQueueRows = options.maxQueueRows ?? 20_000;
    this.loader = new DataLoader<In, Out, In>((rows) => this.dispatch(rows), {
      cache: false,
      maxBatchSize: options.maxBatchSize ?? 1_024,
      // setImmediate (not DataLoader's default nextTick) so requests read in the same poll phase share a run.
      batchScheduleFn: maxWaitMs > 0 ? (cb) => setTimeout(cb, maxWaitMs) : (cb) => setImmediate(cb),
    });
  }

  /** Infers one row. Rejects with SERVER_BUSY at once when the queue is full. */
  load(row: In): Promise<Out> {
    try {
      this.admit(1);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.loader.load(row);
  }

  /** Infers all rows, or none: the whole call is admitted or refused, and it rejects if any row's run failed. */
  async loadAll(rows: readonly In[]): Promise<Out[]> {
    this.admit(rows.length);
    return Promise.all(rows.map((row) => this.loader.load(row)));
  }

  stats(): BatcherStats {
    return {
      runs: this.runs,
      rows: this.rows,
      failedRuns: this.failedRuns,
      queuedRows: this.queued,
      meanRowsPerRun: this.runs === 0 ? 0 : this.rows / this.runs,
    };
  }

  private admit(count: number): void {
    if (this.queued + count > this.maxQueueRows) throw serverBusy(this.queued, this.maxQueueRows);
    this.queued += count;
  }

  private async dispatch(rows: readonly In[]): Promise<Out[]> {
    try {
      const outputs = await this.options.runBatch(rows);
      if (outputs.length !== rows.length) {
        throw new Error(`runBatch returned ${outputs.length} outputs for ${rows.length} rows`);
      }
      this.runs += 1;
      this.rows += rows.length;
      return outputs;
    } catch (err) {
      this.failedRuns += 1;
      throw err;
    } finally {
      this.queued -= rows.length;
    }
  }
}
