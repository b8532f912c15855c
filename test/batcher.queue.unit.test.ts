// RowBatcher details the other batcher tests leave open: exact queue-wait and run durations (a fake
// performance.now), the abort-listener contract with a Cancellation, calls split across runs, one run at
// a time, a deadline turned off, retryAfter, the queue's compaction, idle() and timers left behind.
// Deterministic: the clock is mocked, deadlines use mocked setTimeout where their length matters.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it, type TestContext } from 'node:test';
import type { GraphQLError } from 'graphql';
import { RowBatcher, type Cancellation } from '../src/inference/batcher';

/** A runBatch that records each call and can be held open until released. */
function recorder(onRun?: () => void) {
  const calls: number[][] = [];
  let gate: Promise<void> = Promise.resolve();
  let release = () => {};
  let active = 0;
  let maxActive = 0;
  return {
    calls,
    get maxActive() {
      return maxActive;
    },
    hold() {
      gate = new Promise((r) => (release = r));
    },
    release: () => release(),
    run: async (rows: readonly number[]) => {
      calls.push([...rows]);
      active++;
      maxActive = Math.max(maxActive, active);
      onRun?.();
      await gate;
      active--;
      return [...rows];
    },
  };
}

/** performance.now, as the batcher reads it, under the test's control. */
function fakeClock(t: TestContext, start = 1_000) {
  const clock = { now: start };
  t.mock.method(performance, 'now', () => clock.now);
  return clock;
}

/** A Cancellation that records what the batcher does with it. `sticky`: removal does not stop `fire`. */
function spySignal(sticky = false) {
  const added: Array<{ type: string; listener: () => void; options: unknown }> = [];
  const removed: Array<{ type: string; listener: unknown }> = [];
  const signal: Cancellation & { fire(): void } = {
    aborted: false,
    addEventListener(type, listener, options) {
      added.push({ type, listener, options });
    },
    removeEventListener(type, listener) {
      removed.push({ type, listener });
    },
    fire() {
      for (const a of added) {
        if (sticky || !removed.some((r) => r.listener === a.listener)) a.listener();
      }
    },
  };
  return { signal, added, removed };
}

/** The batcher's private queue array and read position (memory use, not visible otherwise). */
function queueOf(b: RowBatcher<number, number>): { length: number; head: number } {
  const inner = b as unknown as { queue: unknown[]; head: number };
  return { length: inner.queue.length, head: inner.head };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('RowBatcher durations reported to hooks (fake clock)', () => {
  it('onQueueWait: once per call in a run, its own rows and its own wait in seconds; onRun: the run time', async (t) => {
    const clock = fakeClock(t);
    const waits: Array<[number, number]> = [];
    const runs: Array<[number, number, boolean]> = [];
    const b = new RowBatcher<number, number>({
      runBatch: async (rows) => {
        clock.now += 100; // the run takes 100 ms
        return [...rows];
      },
      hooks: {
        onQueueWait: (seconds, rows) => waits.push([seconds, rows]),
        onRun: (rows, seconds, ok) => runs.push([rows, seconds, ok]),
      },
    });
    const first = b.loadAll([1, 2, 3]); // queued at 1000
    clock.now = 1_250;
    const second = b.load(4); // queued at 1250
    const third = b.loadAll([5, 6]); // queued at 1250
    clock.now = 1_500; // the run is formed at 1500
    assert.deepEqual(await Promise.all([first, second, third]), [[1, 2, 3], 4, [5, 6]]);
    assert.deepEqual(waits, [
      [0.5, 3],
      [0.25, 1],
      [0.25, 2],
    ]);
    assert.deepEqual(runs, [[6, 0.1, true]]);
  });

  it('a failed run reports its rows, its duration and ok=false, and gives back exactly its rows', async (t) => {
    const clock = fakeClock(t);
    const runs: Array<[number, number, boolean]> = [];
    const deltas: number[] = [];
    const b = new RowBatcher<number, number>({
      runBatch: async () => {
        clock.now += 250;
        throw new Error('boom');
      },
      hooks: { onRun: (rows, seconds, ok) => runs.push([rows, seconds, ok]), onQueueChange: (d) => deltas.push(d) },
    });
    const { signal, added, removed } = spySignal();
    const outcomes = await Promise.allSettled([b.loadAll([1, 2], signal), b.load(3)]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected'],
    );
    assert.deepEqual(runs, [[3, 0.25, false]]);
    assert.deepEqual(deltas, [2, 1, -3], 'no second give-back for rows already given back by the run');
    assert.equal(added.length, 1);
    assert.deepEqual(removed, [{ type: 'abort', listener: added[0].listener }], 'the listener is removed once');
    assert.deepEqual(b.stats(), {
      runs: 0,
      rows: 0,
      failedRuns: 1,
      queuedRows: 0,
      meanRowsPerRun: 0,
      dropped: { disconnected: 0, deadline: 0 },
    });
  });
});

describe('RowBatcher and its Cancellation', () => {
  it('listens once for abort, and removes that listener when the last row of the call is taken', async () => {
    const r = recorder();
    r.hold();
    const b = new RowBatcher<number, number>({ runBatch: r.run });
    const { signal, added, removed } = spySignal();
    const call = b.loadAll([1, 2], signal);
    assert.equal(added.length, 1);
    assert.equal(added[0].type, 'abort');
    assert.deepEqual(added[0].options, { once: true });
    assert.deepEqual(removed, []);
    await turn();
    assert.deepEqual(removed, [{ type: 'abort', listener: added[0].listener }]);
    r.release();
    assert.deepEqual(await call, [1, 2]);
    assert.equal(removed.length, 1);
  });

  it('an abort arriving after every row of the call was taken (a listener that still fires) changes nothing', async () => {
    const r = recorder();
    r.hold();
    const drops: unknown[] = [];
    const b = new RowBatcher<number, number>({ runBatch: r.run, hooks: { onDrop: (...a) => drops.push(a) } });
    const { signal } = spySignal(true);
    const call = b.loadAll([1, 2], signal);
    await turn();
    signal.fire(); // the rows are running
    r.release();
    assert.deepEqual(await call, [1, 2]);
    signal.fire(); // and after the call resolved
    assert.deepEqual(drops, []);
    assert.deepEqual(b.stats().dropped, { disconnected: 0, deadline: 0 });
    assert.equal(b.stats().queuedRows, 0);
  });

  it('a call split across runs keeps its abort listener for its rows still queued: they are dropped', async () => {
    const r = recorder();
    r.hold();
    const drops: Array<[string, number]> = [];
    const b = new RowBatcher<number, number>({ runBatch: r.run, maxBatchSize: 4, hooks: { onDrop: (why, n) => drops.push([why, n]) } });
    const ac = new AbortController();
    const call = b.loadAll([1, 2, 3, 4, 5, 6], ac.signal);
    await turn();
    assert.deepEqual(r.calls, [[1, 2, 3, 4]]);
    ac.abort();
    await assert.rejects(call, (err: GraphQLError) => err.extensions.code === 'CLIENT_CLOSED_REQUEST');
    assert.deepEqual(drops, [['disconnected', 2]]);
    assert.equal(b.stats().queuedRows, 4, 'the running rows still count until their run ends');
    r.release();
    await b.idle();
    assert.deepEqual(r.calls, [[1, 2, 3, 4]], 'rows 5 and 6 never ran');
    assert.equal(b.stats().queuedRows, 0);
    assert.deepEqual(b.stats().dropped, { disconnected: 2, deadline: 0 });
  });
});

describe('RowBatcher scheduling and deadlines', () => {
  it('runs one batch at a time: rows queued while a run is held wait for it', async () => {
    const r = recorder();
    r.hold();
    const b = new RowBatcher<number, number>({ runBatch: r.run, maxBatchSize: 1 });
    const all = Promise.all([b.load(1), b.load(2), b.load(3)]);
    await turn();
    await turn();
    await turn();
    assert.deepEqual(r.calls, [[1]]);
    r.release();
    assert.deepEqual(await all, [1, 2, 3]);
    assert.deepEqual(r.calls, [[1], [2], [3]]);
    assert.equal(r.maxActive, 1);
  });

  it('maxQueueWaitMs Infinity: no deadline, a row waits as long as the run before it takes', async () => {
    const r = recorder();
    r.hold();
    const b = new RowBatcher<number, number>({ runBatch: r.run, maxQueueWaitMs: Infinity });
    const first = b.load(1);
    await turn();
    const second = b.load(2);
    await new Promise((resolve) => setTimeout(resolve, 30));
    r.release();
    assert.deepEqual(await Promise.all([first, second]), [1, 2]);
    assert.deepEqual(b.stats().dropped, { disconnected: 0, deadline: 0 });
  });

  it('retryAfter is the deadline rounded up to whole seconds (1500 ms: 2), refused at the deadline, not before', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const r = recorder();
    r.hold();
    const b = new RowBatcher<number, number>({ runBatch: r.run, maxQueueWaitMs: 1_500 });
    const running = b.load(1);
    await turn();
    const seen: { err?: GraphQLError } = {};
    const late = b.loadAll([2, 3]).catch((err: GraphQLError) => (seen.err = err));
    t.mock.timers.tick(1_499);
    await turn();
    assert.equal(seen.err, undefined, 'not refused before the deadline');
    t.mock.timers.tick(1);
    await late;
    const err = seen.err as unknown as GraphQLError;
    assert.equal(err.extensions.code, 'SERVER_BUSY');
    assert.equal(err.extensions.retryAfter, 2);
    assert.equal(err.extensions.maxQueueWaitMs, 1_500);
    r.release();
    assert.equal(await running, 1);
    assert.deepEqual(b.stats().dropped, { disconnected: 0, deadline: 2 });
  });

  it('a call that ran leaves no deadline timer behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    const before = timers();
    const b = new RowBatcher<number, number>({ runBatch: async (rows) => [...rows], maxQueueWaitMs: 60_000 });
    const call = b.loadAll([1, 2]);
    assert.equal(timers(), before + 1, 'the deadline is armed while queued');
    assert.deepEqual(await call, [1, 2]);
    assert.equal(timers(), before);
  });
});

describe('RowBatcher queue memory', () => {
  it('empties its queue array once every row was taken', async () => {
    const r = recorder();
    const b = new RowBatcher<number, number>({ runBatch: r.run, maxBatchSize: 2 });
    assert.deepEqual(await b.loadAll([1, 2, 3]), [1, 2, 3]);
    assert.deepEqual(queueOf(b), { length: 0, head: 0 });
  });

  it('keeps a short queue as it is while rows remain (head moves on)', async () => {
    const r = recorder();
    r.hold();
    const b = new RowBatcher<number, number>({ runBatch: r.run, maxBatchSize: 2 });
    const call = b.loadAll([1, 2, 3]);
    await turn();
    assert.deepEqual(queueOf(b), { length: 3, head: 2 });
    r.release();
    assert.deepEqual(await call, [1, 2, 3]);
  });

  for (const [batch, rows, compacted] of [
    [4_097, 8_000, true], // more than 4,096 taken and more than half the array: cut off
    [4_096, 8_000, false], // exactly 4,096 taken: kept
    [4_097, 8_194, false], // exactly half taken: kept
  ] as const) {
    it(`${rows} rows, runs of ${batch}: the taken front is ${compacted ? 'cut off' : 'kept'}, every row still runs once in order`, async () => {
      const r = recorder();
      r.hold();
      const b = new RowBatcher<number, number>({ runBatch: r.run, maxBatchSize: batch });
      const input = Array.from({ length: rows }, (_, i) => i);
      const call = b.loadAll(input);
      await turn();
      assert.deepEqual(queueOf(b), compacted ? { length: rows - batch, head: 0 } : { length: rows, head: batch });
      r.release();
      assert.deepEqual(await call, input);
      assert.deepEqual(r.calls.flat(), input);
    });
  }
});

describe('RowBatcher idle()', () => {
  it('a call dropped while other rows are queued (no run yet) does not make the batcher idle', async () => {
    const events: string[] = [];
    const b = new RowBatcher<number, number>({
      runBatch: async (rows) => (events.push('run'), [...rows]),
    });
    const kept = b.load(1);
    const ac = new AbortController();
    const gone = b.loadAll([2, 3], ac.signal).catch(() => events.push('dropped'));
    const idle = b.idle().then(() => events.push('idle'));
    ac.abort();
    await Promise.all([kept, gone, idle]);
    assert.deepEqual(events, ['dropped', 'run', 'idle']);
  });

  it('resolves after a failed run only once the batcher stopped running', async () => {
    const r = recorder();
    r.hold();
    const b = new RowBatcher<number, number>({
      runBatch: async (rows) => {
        await r.run(rows);
        throw new Error('boom');
      },
    });
    const call = b.loadAll([1, 2]).catch(() => 'failed');
    await turn();
    let runningWhenIdle: boolean | undefined;
    const idle = b.idle().then(() => (runningWhenIdle = (b as unknown as { running: boolean }).running));
    r.release();
    assert.equal(await call, 'failed');
    await idle;
    assert.equal(runningWhenIdle, false);
  });

  it('serves idle() again after a first idle (waiters are reset)', async () => {
    const b = new RowBatcher<number, number>({ runBatch: async (rows) => [...rows] });
    const first = b.loadAll([1]);
    await b.idle();
    assert.deepEqual(await first, [1]);
    const second = b.loadAll([2]);
    const idled = b.idle();
    assert.deepEqual(await second, [2]);
    await idled;
    assert.equal(b.stats().runs, 2);
  });
});
