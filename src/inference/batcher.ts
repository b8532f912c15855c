import { performance } from 'node:perf_hooks';
import { clientDisconnected, queueWaitExceeded, serverBusy } from '../errors';

/** Why queued rows left the queue without a run. */
export type DropReason = 'disconnected' | 'deadline';

/**
 * Observers of the queue and the runs (metrics). Every hook is optional and must not throw; they are
 * called synchronously on the hot path, so keep them to counter increments.
 */
export interface BatcherHooks {
  /** A run ended: rows it scored, its duration, and whether it succeeded. */
  onRun?: (rows: number, seconds: number, ok: boolean) => void;
  /** `rows` rows of one call left the queue for a run after waiting `seconds`. */
  onQueueWait?: (seconds: number, rows: number) => void;
  /** Rows admitted (positive) or no longer queued or running (negative). */
  onQueueChange?: (delta: number) => void;
  /** Rows removed from the queue before they ran. */
  onDrop?: (reason: DropReason, rows: number) => void;
  /**
   * Tracing: `rows` rows of the call traced as `trace` left the queue for a run, or were dropped
   * (`dropped` says why); they were queued at `queuedAt` (performance.now()). Only calls given a trace.
   */
  onTracedWait?: (trace: unknown, queuedAt: number, rows: number, dropped?: DropReason) => void;
  /**
   * Tracing: a run of `rows` rows that started at `startedAt` (performance.now()) ended; `traces` are the
   * handles of the calls whose rows it carried (those given one), each once.
   */
  onTracedRun?: (traces: readonly unknown[], rows: number, startedAt: number, ok: boolean, info: RunInfo | undefined) => void;
}

/** What a run is run on, for its trace. */
export interface RunInfo {
  modelVersion: string;
  device: string;
}

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
  /**
   * Longest a row may wait for its run, in ms; past it the call's waiting rows leave the queue and the
   * call rejects with SERVER_BUSY and a retryAfter. Default 1,000; Infinity turns it off.
   */
  maxQueueWaitMs?: number;
  hooks?: BatcherHooks;
  /** Passed to onTracedRun. */
  runInfo?: RunInfo;
}

export interface BatcherStats {
  runs: number;
  rows: number;
  failedRuns: number;
  queuedRows: number;
  meanRowsPerRun: number;
  /** Rows that left the queue without a run, by reason. */
  dropped: Record<DropReason, number>;
}

/**
 * What the batcher needs of an AbortSignal (an AbortSignal is one). The edge hands a lighter object that
 * only fires when a client goes away: a real AbortController per request cost ~2.7 % of a `predict`'s CPU.
 */
export interface Cancellation {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** One load/loadAll call: its rows share a deadline, an abort signal and one promise. */
interface Call<Out> {
  results: Out[];
  /** Rows not yet taken by a run. */
  waiting: number;
  /** Rows whose outputs are in. */
  done: number;
  settled: boolean;
  enqueuedAt: number;
  resolve: (out: Out[]) => void;
  reject: (err: unknown) => void;
  timer?: NodeJS.Timeout;
  signal?: Cancellation;
  onAbort?: () => void;
  /** The caller's opaque trace handle (tracing on), handed back to the tracing hooks. */
  trace: unknown;
}

interface Entry<In, Out> {
  row: In;
  call: Call<Out>;
  index: number;
}

/**
 * Coalesces concurrent single rows and the rows of batch calls into shared runs of at most
 * `maxBatchSize` rows, one run at a time (an ONNX run occupies the thread anyway), in arrival order.
 *
 * The queue is ours rather than DataLoader's so that rows can leave it before they run: a call whose
 * client disconnected (its AbortSignal fired) or that waited past `maxQueueWaitMs` is dropped, and
 * its rows are skipped when the next run is formed. A run is formed when it starts, so rows arriving
 * while one run executes join the next.
 */
export class RowBatcher<In, Out> {
  private readonly maxBatchSize: number;
  private readonly maxWaitMs: number;
  private readonly maxQueueRows: number;
  private readonly maxQueueWaitMs: number;
  private readonly hooks: BatcherHooks;
  private queue: Array<Entry<In, Out>> = [];
  private head = 0;
  private scheduled = false;
  private running = false;
  private idleWaiters: Array<() => void> = [];
  private queued = 0;
  private runs = 0;
  private rows = 0;
  private failedRuns = 0;
  private readonly dropped: Record<DropReason, number> = { disconnected: 0, deadline: 0 };

  constructor(private readonly options: RowBatcherOptions<In, Out>) {
    this.maxBatchSize = options.maxBatchSize ?? 1_024;
    this.maxWaitMs = options.maxWaitMs ?? 0;
    this.maxQueueRows = options.maxQueueRows ?? 20_000;
    this.maxQueueWaitMs = options.maxQueueWaitMs ?? 1_000;
    this.hooks = options.hooks ?? {};
  }

  /** Infers one row. Rejects with SERVER_BUSY at once when the queue is full. */
  load(row: In, signal?: Cancellation, trace?: unknown): Promise<Out> {
    return this.loadAll([row], signal, trace).then((out) => out[0]);
  }

  /** Infers all rows, or none: the whole call is admitted or refused, and it rejects if any row's run failed. */
  loadAll(rows: readonly In[], signal?: Cancellation, trace?: unknown): Promise<Out[]> {
    if (signal?.aborted) return Promise.reject(clientDisconnected());
    if (this.queued + rows.length > this.maxQueueRows) return Promise.reject(serverBusy(this.queued, this.maxQueueRows));
    this.queued += rows.length;
    this.hooks.onQueueChange?.(rows.length);
    let resolve!: Call<Out>['resolve'];
    let reject!: Call<Out>['reject'];
    const promise = new Promise<Out[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const call: Call<Out> = {
      results: new Array<Out>(rows.length),
      waiting: rows.length,
      done: 0,
      settled: false,
      enqueuedAt: performance.now(),
      resolve,
      reject,
      trace,
    };
    for (let i = 0; i < rows.length; i++) this.queue.push({ row: rows[i], call, index: i });
    if (Number.isFinite(this.maxQueueWaitMs)) {
      call.timer = setTimeout(() => this.drop(call, 'deadline'), this.maxQueueWaitMs);
    }
    if (signal) {
      call.signal = signal;
      call.onAbort = () => this.drop(call, 'disconnected');
      signal.addEventListener('abort', call.onAbort, { once: true });
    }
    this.schedule();
    return promise;
  }

  stats(): BatcherStats {
    return {
      runs: this.runs,
      rows: this.rows,
      failedRuns: this.failedRuns,
      queuedRows: this.queued,
      meanRowsPerRun: this.runs === 0 ? 0 : this.rows / this.runs,
      dropped: { ...this.dropped },
    };
  }

  /** Resolves once no row is waiting or running (a retired model's session may then be released). */
  idle(): Promise<void> {
    if (this.queued === 0 && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // setImmediate (not nextTick) so requests read in the same poll phase share a run.
    if (this.maxWaitMs > 0) setTimeout(() => void this.drain(), this.maxWaitMs);
    else setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    try {
      for (let batch = this.take(); batch.length > 0; batch = this.take()) await this.run(batch);
    } finally {
      this.running = false;
      this.checkIdle();
    }
  }

  /** The next run: up to maxBatchSize rows from the front, skipping rows of dropped calls. */
  private take(): Array<Entry<In, Out>> {
    const batch: Array<Entry<In, Out>> = [];
    const now = performance.now();
    let last: Call<Out> | undefined;
    let lastRows = 0;
    while (this.head < this.queue.length && batch.length < this.maxBatchSize) {
      const entry = this.queue[this.head++];
      const call = entry.call;
      if (call.settled) continue;
      batch.push(entry);
      if (--call.waiting === 0) this.detach(call);
      if (call !== last) {
        if (last) this.waited(last, now, lastRows);
        last = call;
        lastRows = 0;
      }
      lastRows++;
    }
    if (last) this.waited(last, now, lastRows);
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4_096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private waited(call: Call<Out>, now: number, rows: number): void {
    this.hooks.onQueueWait?.((now - call.enqueuedAt) / 1000, rows);
    if (call.trace !== undefined) this.hooks.onTracedWait?.(call.trace, call.enqueuedAt, rows);
  }

  /** The trace handles of the calls a run carries, each once (a call's rows are contiguous in the queue). */
  private tracesOf(batch: Array<Entry<In, Out>>): unknown[] {
    const traces: unknown[] = [];
    let last: Call<Out> | undefined;
    for (const { call } of batch) {
      if (call === last) continue;
      last = call;
      if (call.trace !== undefined) traces.push(call.trace);
    }
    return traces;
  }

  private tracedRun(batch: Array<Entry<In, Out>>, started: number, ok: boolean): void {
    const hook = this.hooks.onTracedRun;
    if (hook === undefined) return;
    const traces = this.tracesOf(batch);
    if (traces.length > 0) hook(traces, batch.length, started, ok, this.options.runInfo);
  }

  private async run(batch: Array<Entry<In, Out>>): Promise<void> {
    const started = performance.now();
    let outputs: Out[];
    try {
      outputs = await this.options.runBatch(batch.map((e) => e.row));
      if (outputs.length !== batch.length) {
        throw new Error(`runBatch returned ${outputs.length} outputs for ${batch.length} rows`);
      }
    } catch (err) {
      this.failedRuns += 1;
      this.release(batch.length);
      this.hooks.onRun?.(batch.length, (performance.now() - started) / 1000, false);
      this.tracedRun(batch, started, false);
      // A call with a failed row fails whole; its rows still queued need not run.
      for (const { call } of batch) this.fail(call, err);
      return;
    }
    this.runs += 1;
    this.rows += batch.length;
    this.release(batch.length);
    this.hooks.onRun?.(batch.length, (performance.now() - started) / 1000, true);
    this.tracedRun(batch, started, true);
    for (let i = 0; i < batch.length; i++) {
      const { call, index } = batch[i];
      if (call.settled) continue;
      call.results[index] = outputs[i];
      if (++call.done === call.results.length) {
        call.settled = true;
        call.resolve(call.results);
      }
    }
  }

  /** Takes a call's waiting rows out of the queue and rejects it (client gone, or waited too long). */
  private drop(call: Call<Out>, reason: DropReason): void {
    if (call.settled || call.waiting === 0) return; // every row already runs: let it finish
    const rows = call.waiting;
    this.dropped[reason] += rows;
    this.hooks.onDrop?.(reason, rows);
    if (call.trace !== undefined) this.hooks.onTracedWait?.(call.trace, call.enqueuedAt, rows, reason);
    const retryAfter = Math.max(1, Math.ceil(this.maxQueueWaitMs / 1000));
    this.fail(call, reason === 'deadline' ? queueWaitExceeded(this.maxQueueWaitMs, retryAfter) : clientDisconnected());
  }

  private fail(call: Call<Out>, err: unknown): void {
    if (call.settled) return;
    call.settled = true;
    if (call.waiting > 0) {
      this.release(call.waiting);
      call.waiting = 0;
    }
    this.detach(call);
    call.reject(err);
    this.checkIdle();
  }

  private release(rows: number): void {
    this.queued -= rows;
    this.hooks.onQueueChange?.(-rows);
  }

  /** A call with no rows left in the queue needs neither its deadline nor its abort listener. */
  private detach(call: Call<Out>): void {
    if (call.timer) clearTimeout(call.timer);
    call.timer = undefined;
    if (call.onAbort) call.signal?.removeEventListener('abort', call.onAbort);
    call.onAbort = undefined;
  }

  private checkIdle(): void {
    if (this.queued !== 0 || this.running || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
