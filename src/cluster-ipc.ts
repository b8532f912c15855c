/**
 * Request/answer over the IPC channel node:cluster opens between a worker and the primary. Each request
 * carries an id; answers may come back in any order, and one that does not come within `timeoutMs`
 * rejects (the primary may be busy or gone: callers decide what that means, e.g. the rate limiter's
 * RATE_LIMIT_FAIL_MODE).
 */
export interface IpcRequest {
  pm: string;
  id: number;
  [key: string]: unknown;
}

export interface IpcAnswer {
  pm: string;
  id: number;
  result?: unknown;
  error?: string;
}

export class IpcClient {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  /** `channel`: the `pm` tag of this client's messages; the primary answers with the same tag. */
  constructor(
    private readonly channel: string,
    private readonly timeoutMs: number,
  ) {
    process.on('message', (message: unknown) => {
      const answer = message as IpcAnswer | undefined;
      if (answer?.pm !== this.channel || typeof answer.id !== 'number') return;
      const waiter = this.pending.get(answer.id);
      if (!waiter) return; // answered after its timeout
      this.pending.delete(answer.id);
      clearTimeout(waiter.timer);
      if (answer.error !== undefined) waiter.reject(new Error(answer.error));
      else waiter.resolve(answer.result);
    });
  }

  request<T>(payload: Record<string, unknown>): Promise<T> {
    if (!process.send || !process.connected) return Promise.reject(new Error('not connected to a cluster primary'));
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      // The timer may fire late, after a blocked event loop, with the answer already waiting unread in
      // the pipe: timers run before I/O in a loop turn, so give the poll phase one turn to deliver it.
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (!this.pending.delete(id)) return;
            reject(new Error(`the cluster primary did not answer within ${this.timeoutMs} ms`));
          }),
        this.timeoutMs,
      );
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      process.send!({ ...payload, pm: this.channel, id } satisfies IpcRequest, undefined, undefined, (err: Error | null) => {
        if (!err) return;
        const waiter = this.pending.get(id);
        if (!waiter) return;
        this.pending.delete(id);
        clearTimeout(timer);
        reject(err);
      });
    });
  }
}
