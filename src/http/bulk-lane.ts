import type { ServerResponse } from 'node:http';

/**
 * Bodies at least this large are handled in the bulk lane: their CPU-heavy steps (decoding, JSON.parse,
 * the document check) run one per turn of the event loop, after small requests. Nearly every legitimate
 * request is smaller; the largest legitimate ones (a 1,000-row batch, ~120-200 KB) pay a few turns.
 */
export const LARGE_BODY_BYTES = 64 * 1024;

export interface BulkLaneOptions {
  /** Most bytes of large bodies admitted at once (`admit`); default unbounded. */
  maxLargeBytes?: number;
  /**
   * Longest one step of a large request waits while small requests are in flight (default 50 ms): under
   * steady small traffic a large legitimate batch still goes ahead, a step at a time.
   */
  maxDeferMs?: number;
}

/**
 * Small requests first. A client sending the largest body the limit allows, back to back, costs the
 * event loop milliseconds per body (reading a megabyte, decoding it, JSON.parse, lexing). Done as soon as
 * each body arrives, two such clients keep the loop busy most of the time and a third client's `predict`
 * queues behind their work. Here the steps of large requests wait while any small request is in flight,
 * and run one per turn, so a small request waits for at most the step already running.
 *
 * Small requests are counted from the edge (`trackSmall`, by Content-Length) until their response closes
 * ('close' fires on completion and on abort alike, so the count cannot leak).
 */
export class BulkLane {
  private small = 0;
  private largeBytes = 0;
  private readonly maxLargeBytes: number;
  private readonly steps: Array<{ run: () => void; fail: (err: unknown) => void; since: number }> = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxDeferMs: number;

  constructor(options: BulkLaneOptions = {}) {
    this.maxDeferMs = options.maxDeferMs ?? 50;
    this.maxLargeBytes = options.maxLargeBytes ?? Infinity;
  }

  /** Bytes of large bodies admitted and not yet answered. */
  get largeBytesInFlight(): number {
    return this.largeBytes;
  }

  /** Small requests in flight (for tests and metrics). */
  get smallInFlight(): number {
    return this.small;
  }

  /** Steps waiting to run. */
  get waiting(): number {
    return this.steps.length;
  }

  /** Counts a small request until its response closes. */
  trackSmall(response: ServerResponse): void {
    this.small++;
    response.once('close', () => {
      this.small--;
      if (this.small === 0) this.schedule();
    });
  }

  /**
   * Admits a large body of `bytes` (at most) until its response closes, or refuses it (false) when the
   * bodies already admitted and this one would pass maxLargeBytes: the bodies, their text and their parsed
   * JSON all live at once while they wait in the lane, so their number is what bounds the heap.
   */
  admit(bytes: number, response: ServerResponse): boolean {
    if (this.largeBytes + bytes > this.maxLargeBytes) return false;
    this.largeBytes += bytes;
    response.once('close', () => (this.largeBytes -= bytes));
    return true;
  }

  /**
   * Runs `step` in a turn of its own, once no small request is in flight or it has waited maxDeferMs.
   * If it throws, `fail` gets the error (the request is answered, not left waiting), and the lane goes on.
   */
  run(step: () => void, fail: (err: unknown) => void): void {
    this.steps.push({ run: step, fail, since: performance.now() });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.steps.length === 0) return;
    this.scheduled = true;
    setImmediate(this.next);
  }

  private readonly next = (): void => {
    this.scheduled = false;
    const head = this.steps[0];
    if (head === undefined) return;
    const waited = performance.now() - head.since;
    if (this.small > 0 && waited < this.maxDeferMs) {
      // Woken by the last small response closing, or by the deadline, whichever comes first.
      if (this.timer === undefined) {
        this.timer = setTimeout(
          () => {
            this.timer = undefined;
            this.schedule();
          },
          Math.ceil(this.maxDeferMs - waited),
        );
        this.timer.unref();
      }
      return;
    }
    this.steps.shift();
    this.schedule();
    try {
      head.run();
    } catch (err) {
      head.fail(err);
    }
  };
}
