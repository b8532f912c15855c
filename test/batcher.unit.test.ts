import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it, type TestContext } from 'node:test';
import { GraphQLError } from 'graphql';
import { RowBatcher, type BatcherHooks, type DropReason, type RunInfo } from '../src/inference/batcher';

/** A runBatch that records each call and can be held open until released. */
function recorder<T>(fn: (rows: readonly T[]) => T[] = (rows) => [...rows]) {
  const calls: T[][] = [];
  let gate: Promise<void> = Promise.resolve();
  let release = () => {};
  return {
    calls,
    hold() {
      gate = new Promise((r) => (release = r));
    },
    release: () => release(),
    run: async (rows: readonly T[]) => {
      calls.push([...rows]);
      await gate;
      return fn(rows);
    },
  };
}

describe('RowBatcher', () => {
  it('coalesces rows requested in the same tick into one run', async () => {
    const r = recorder<number>((rows) => rows.map((x) => x * 10));
    const b = new RowBatcher({ runBatch: r.run });
    const results = await Promise.all([1, 2, 3, 4, 5].map((x) => b.load(x)));
    assert.deepEqual(results, [10, 20, 30, 40, 50]);
    assert.equal(r.calls.length, 1);
    assert.deepEqual(b.stats(), {
      runs: 1,
      rows: 5,
      failedRuns: 0,
      queuedRows: 0,
      meanRowsPerRun: 5,
      dropped: { disconnected: 0, deadline: 0 },
    });
  });

  it('coalesces work queued from separate I/O-phase callbacks of the same loop turn', async () => {
    // Two immediates queued together run in one check phase, like two requests read in one poll phase:
    // separate callbacks, each ending its own microtask queue. (Two setTimeout(0)s are not a stand-in:
    // when a millisecond boundary falls between them they fire in different loop turns.)
    const r = recorder<number>();
    const b = new RowBatcher({ runBatch: r.run });
    const results = await Promise.all([
      new Promise((resolve) => setImmediate(() => resolve(b.load(1)))),
      new Promise((resolve) => setImmediate(() => resolve(b.loadAll([2, 3])))),
    ]);
    assert.deepEqual(results, [1, [2, 3]]);
    assert.equal(r.calls.length, 1);
  });

  it('never runs more than maxBatchSize rows at once', async () => {
    const r = recorder<number>();
    const b = new RowBatcher({ runBatch: r.run, maxBatchSize: 10 });
    const out = await b.loadAll(Array.from({ length: 25 }, (_, i) => i));
    assert.deepEqual(
      out,
      Array.from({ length: 25 }, (_, i) => i),
    );
    assert.deepEqual(
      r.calls.map((c) => c.length),
      [10, 10, 5],
    );
  });

  it('waits maxWaitMs to gather rows that arrive later', async () => {
    const r = recorder<number>();
    const b = new RowBatcher({ runBatch: r.run, maxWaitMs: 30 });
    const first = b.load(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = b.load(2);
    assert.deepEqual(await Promise.all([first, second]), [1, 2]);
    assert.equal(r.calls.length, 1);
  });

  it('fails fast with SERVER_BUSY past the queue bound, all-or-nothing for batches', async () => {
    const r = recorder<number>();
    r.hold();
    const b = new RowBatcher({ runBatch: r.run, maxQueueRows: 5 });
    const pending = b.loadAll([1, 2, 3, 4]);
    await assert.rejects(b.loadAll([5, 6]), (err: GraphQLError) => {
      assert.equal(err.extensions.code, 'SERVER_BUSY');
      assert.equal(err.extensions.maxQueueRows, 5);
      return true;
    });
    assert.equal(b.stats().queuedRows, 4, 'a refused batch must not hold queue space');
    const fifth = b.load(5);
    await assert.rejects(b.load(6), /queue is full/);
    r.release();
    assert.deepEqual(await pending, [1, 2, 3, 4]);
    assert.equal(await fifth, 5);
    assert.equal(b.stats().queuedRows, 0);
    assert.equal(await b.load(7), 7, 'space is returned once runs finish');
  });

  it('rejects every waiter of a failed run and keeps serving', async () => {
    let fail = true;
    const b = new RowBatcher<number, number>({
      runBatch: async (rows) => {
        if (fail) throw new Error('boom');
        return [...rows];
      },
    });
    const outcomes = await Promise.allSettled([b.load(1), b.load(2), b.loadAll([3, 4])]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected', 'rejected'],
    );
    for (const o of outcomes) assert.match(String((o as PromiseRejectedResult).reason), /boom/);
    assert.equal(b.stats().failedRuns, 1);
    assert.equal(b.stats().queuedRows, 0);
    fail = false;
    assert.deepEqual(await b.loadAll([5, 6]), [5, 6]);
  });

  it('rejects every waiter when a run returns the wrong number of outputs', async () => {
    const b = new RowBatcher<number, number>({ runBatch: async (rows) => rows.slice(1) });
    const outcomes = await Promise.allSettled([b.load(1), b.load(2), b.load(3)]);
    assert.ok(outcomes.every((o) => o.status === 'rejected'));
    assert.match(String((outcomes[0] as PromiseRejectedResult).reason), /2 outputs for 3 rows/);
    assert.equal(b.stats().queuedRows, 0);
  });

  it('gives each caller its own rows back under interleaved concurrent load', async () => {
    const b = new RowBatcher<{ id: number }, string>({
      runBatch: async (rows) => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
        return rows.map((r) => `out-${r.id}`);
      },
      maxBatchSize: 7,
    });
    const callers = Array.from({ length: 60 }, (_, c) => async () => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      if (c % 3 === 0) {
        const ids = Array.from({ length: 1 + (c % 11) }, (_, i) => c * 100 + i);
        return { want: ids.map((id) => `out-${id}`), got: await b.loadAll(ids.map((id) => ({ id }))) };
      }
      return { want: `out-${c}`, got: await b.load({ id: c }) };
    });
    for (const { want, got } of await Promise.all(callers.map((f) => f()))) assert.deepEqual(got, want);
    assert.ok(b.stats().runs < 60, 'concurrent callers should have shared runs');
  });
});

describe('RowBatcher deadlines and abandoned work', () => {
  it('takes the rows of an aborted call out of the queue before they run', async () => {
    const r = recorder<number>();
    r.hold();
    const drops: Array<[string, number]> = [];
    const b = new RowBatcher<number, number>({ runBatch: r.run, hooks: { onDrop: (reason, rows) => drops.push([reason, rows]) } });
    const running = b.loadAll([1, 2]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.calls.length, 1, 'the first call is running (held)');
    const gone = new AbortController();
    const abandoned = b.loadAll([3, 4, 5], gone.signal);
    const kept = b.load(6);
    assert.equal(b.stats().queuedRows, 6);
    gone.abort();
    await assert.rejects(abandoned, (err: GraphQLError) => err.extensions.code === 'CLIENT_CLOSED_REQUEST');
    assert.equal(b.stats().queuedRows, 3, 'the abandoned rows no longer hold queue space');
    r.release();
    assert.deepEqual(await running, [1, 2]);
    assert.equal(await kept, 6);
    assert.deepEqual(r.calls, [[1, 2], [6]], 'rows 3-5 never ran');
    assert.deepEqual(drops, [['disconnected', 3]]);
    assert.deepEqual(b.stats().dropped, { disconnected: 3, deadline: 0 });
  });

  it('refuses a call whose signal already fired without queueing it', async () => {
    const r = recorder<number>();
    const b = new RowBatcher<number, number>({ runBatch: r.run });
    await assert.rejects(b.load(1, AbortSignal.abort()), /disconnected/);
    assert.equal(b.stats().queuedRows, 0);
    assert.equal(r.calls.length, 0);
  });

  it('lets an aborted call whose rows already run finish its run', async () => {
    const r = recorder<number>();
    r.hold();
    const b = new RowBatcher<number, number>({ runBatch: r.run });
    const ac = new AbortController();
    const call = b.loadAll([1, 2], ac.signal);
    await new Promise((resolve) => setImmediate(resolve));
    ac.abort();
    r.release();
    assert.deepEqual(await call, [1, 2]);
    assert.deepEqual(b.stats().dropped, { disconnected: 0, deadline: 0 });
  });

  it('answers SERVER_BUSY with retryAfter to rows that waited past maxQueueWaitMs, and never runs them', async () => {
    const r = recorder<number>();
    r.hold();
    const b = new RowBatcher<number, number>({ runBatch: r.run, maxQueueWaitMs: 50 });
    const running = b.load(1);
    await new Promise((resolve) => setImmediate(resolve));
    const started = Date.now();
    await assert.rejects(b.loadAll([2, 3]), (err: GraphQLError) => {
      assert.equal(err.extensions.code, 'SERVER_BUSY');
      assert.equal(err.extensions.retryAfter, 1);
      assert.equal(err.extensions.maxQueueWaitMs, 50);
      return true;
    });
    assert.ok(Date.now() - started >= 45, 'refused at the deadline, not before');
    r.release();
    assert.equal(await running, 1, 'the running row is not subject to the wait bound');
    await b.idle();
    assert.deepEqual(r.calls, [[1]]);
    assert.deepEqual(b.stats().dropped, { disconnected: 0, deadline: 2 });
    assert.equal(b.stats().queuedRows, 0);
  });

  it('reports runs, queue changes and waits to its hooks', async () => {
    const seen = { runs: [] as number[], queue: 0, maxQueue: 0, waited: 0 };
    const b = new RowBatcher<number, number>({
      runBatch: async (rows) => [...rows],
      maxBatchSize: 4,
      hooks: {
        onRun: (rows, seconds, ok) => {
          assert.ok(ok && seconds >= 0);
          seen.runs.push(rows);
        },
        onQueueChange: (delta) => {
          seen.queue += delta;
          seen.maxQueue = Math.max(seen.maxQueue, seen.queue);
        },
        onQueueWait: (_seconds, rows) => (seen.waited += rows),
      },
    });
    await Promise.all([b.loadAll([1, 2, 3]), b.loadAll([4, 5, 6]), b.load(7)]);
    assert.deepEqual(seen.runs, [4, 3]);
    assert.equal(seen.maxQueue, 7);
    assert.equal(seen.queue, 0);
    assert.equal(seen.waited, 7);
  });

  it('idle() waits for queued and running rows', async () => {
    const r = recorder<number>();
    r.hold();
    const b = new RowBatcher<number, number>({ runBatch: r.run });
    const work = b.loadAll([1, 2]);
    let idle = false;
    const idled = b.idle().then(() => (idle = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(idle, false);
    r.release();
    await work;
    await idled;
    assert.equal(idle, true);
  });
});

/** performance.now, as the batcher reads it, under the test's control. */
function fakeClock(t: TestContext, start = 1_000) {
  const clock = { now: start };
  t.mock.method(performance, 'now', () => clock.now);
  return clock;
}

/** Tracing hooks that record what they are told. */
function tracer() {
  const waits: Array<[unknown, number, number, DropReason | undefined]> = [];
  const runs: Array<[readonly unknown[], number, number, boolean, RunInfo | undefined]> = [];
  const hooks: BatcherHooks = {
    onTracedWait: (trace, queuedAt, rows, dropped) => waits.push([trace, queuedAt, rows, dropped]),
    onTracedRun: (traces, rows, startedAt, ok, info) => runs.push([[...traces], rows, startedAt, ok, info]),
  };
  return { waits, runs, hooks };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const INFO: RunInfo = { modelVersion: 'v-test', device: 'cpu' };

describe('RowBatcher tracing hooks', () => {
  it('reports each traced call’s wait once, with its trace, and the run’s traces; nothing for untraced calls', async (t) => {
    const clock = fakeClock(t);
    const { waits, runs, hooks } = tracer();
    const b = new RowBatcher<number, number>({ runBatch: async (rows) => rows.map((x) => x * 10), hooks, runInfo: INFO });
    const traced = b.load(1, undefined, 'T');
    clock.now = 1_005;
    const untraced = b.load(2);
    clock.now = 1_010;
    const many = b.loadAll([3, 4], undefined, 'U');
    clock.now = 1_020;
    assert.deepEqual(await Promise.all([traced, untraced, many]), [10, 20, [30, 40]]);
    assert.deepEqual(waits, [
      ['T', 1_000, 1, undefined],
      ['U', 1_010, 2, undefined],
    ]);
    assert.deepEqual(runs, [[['T', 'U'], 4, 1_020, true, INFO]]);
  });

  it('hands onTracedRun only the traced calls of a run that carries untraced ones too', async () => {
    const { runs, waits, hooks } = tracer();
    const b = new RowBatcher<number, number>({ runBatch: async (rows) => [...rows], hooks });
    assert.deepEqual(await Promise.all([b.load(1), b.load(2, undefined, 'T'), b.loadAll([3, 4])]), [1, 2, [3, 4]]);
    assert.equal(runs.length, 1);
    assert.deepEqual(runs[0][0], ['T']);
    assert.equal(runs[0][1], 4);
    assert.equal(runs[0][4], undefined, 'no runInfo given');
    assert.deepEqual(
      waits.map((w) => w[0]),
      ['T'],
    );
  });

  it('never calls the tracing hooks for runs and waits of untraced calls only', async () => {
    const { runs, waits, hooks } = tracer();
    const b = new RowBatcher<number, number>({ runBatch: async (rows) => [...rows], hooks });
    assert.deepEqual(await Promise.all([b.loadAll([1, 2]), b.load(3)]), [[1, 2], 3]);
    assert.deepEqual(runs, []);
    assert.deepEqual(waits, []);
    await b.load(4, undefined, 'T');
    assert.deepEqual(
      runs.map((r) => r[0]),
      [['T']],
    );
  });

  it('a failed run is reported with ok=false, a successful one with ok=true', async (t) => {
    const clock = fakeClock(t);
    const { runs, hooks } = tracer();
    let fail = true;
    const b = new RowBatcher<number, number>({
      runBatch: async (rows) => {
        if (fail) throw new Error('run failed');
        return [...rows];
      },
      hooks,
      runInfo: INFO,
    });
    await assert.rejects(b.loadAll([1, 2], undefined, 'F'), /run failed/);
    fail = false;
    clock.now = 2_000;
    assert.equal(await b.load(3, undefined, 'S'), 3);
    assert.deepEqual(runs, [
      [['F'], 2, 1_000, false, INFO],
      [['S'], 1, 2_000, true, INFO],
    ]);
  });

  it('traced calls settle on a batcher without tracing hooks, whether their run succeeds or fails', async () => {
    const ran: boolean[] = [];
    const ok = new RowBatcher<number, number>({ runBatch: async (rows) => [...rows], hooks: { onRun: (_r, _s, done) => ran.push(done) } });
    assert.equal(await ok.load(1, undefined, 'T'), 1);
    assert.deepEqual(await ok.loadAll([2, 3], undefined, 'T2'), [2, 3]);
    const bare = new RowBatcher<number, number>({ runBatch: async (rows) => [...rows] });
    assert.equal(await bare.load(4, undefined, 'T'), 4);
    const failing = new RowBatcher<number, number>({
      runBatch: async () => {
        throw new Error('run failed');
      },
    });
    await assert.rejects(failing.load(5, undefined, 'T'), /run failed/);
    assert.deepEqual(ran, [true, true]);
  });

  it('reports a traced call dropped at its deadline with the reason; nothing for an untraced one', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const clock = fakeClock(t);
    const { waits, runs, hooks } = tracer();
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const b = new RowBatcher<number, number>({
      runBatch: async (rows) => {
        await gate;
        return [...rows];
      },
      maxQueueWaitMs: 100,
      hooks,
    });
    const running = b.load(1);
    await turn();
    clock.now = 1_050;
    const late = b.loadAll([2, 3], undefined, 'T');
    const lateUntraced = b.load(4);
    const outcomes = Promise.allSettled([late, lateUntraced]);
    t.mock.timers.tick(100);
    const [a, c] = await outcomes;
    for (const o of [a, c]) {
      assert.equal(o.status, 'rejected');
      assert.equal(((o as PromiseRejectedResult).reason as GraphQLError).extensions.code, 'SERVER_BUSY');
    }
    assert.deepEqual(waits, [['T', 1_050, 2, 'deadline']]);
    release();
    assert.equal(await running, 1);
    assert.deepEqual(runs, [], 'no traced call ran');
  });

  it('reports a traced call dropped by its signal with the reason; nothing for an untraced one', async () => {
    const { waits, hooks } = tracer();
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const b = new RowBatcher<number, number>({
      runBatch: async (rows) => {
        await gate;
        return [...rows];
      },
      hooks,
    });
    const running = b.load(1);
    await turn();
    const gone = new AbortController();
    const goneUntraced = new AbortController();
    const traced = b.loadAll([2, 3, 4], gone.signal, 'T');
    const untraced = b.load(5, goneUntraced.signal);
    gone.abort();
    goneUntraced.abort();
    for (const call of [traced, untraced]) {
      await assert.rejects(call, (err: GraphQLError) => err.extensions.code === 'CLIENT_CLOSED_REQUEST');
    }
    assert.equal(waits.length, 1);
    assert.equal(waits[0][0], 'T');
    assert.equal(waits[0][2], 3);
    assert.equal(waits[0][3], 'disconnected');
    assert.equal(typeof waits[0][1], 'number');
    release();
    assert.equal(await running, 1);
  });

  it('a traced call dropped on a batcher without onTracedWait still rejects with its code', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const drops: Array<[DropReason, number]> = [];
    const b = new RowBatcher<number, number>({
      runBatch: async (rows) => {
        await gate;
        return [...rows];
      },
      maxQueueWaitMs: 100,
      hooks: { onTracedRun: () => {}, onDrop: (reason, rows) => drops.push([reason, rows]) },
    });
    const running = b.load(1);
    await turn();
    const gone = new AbortController();
    const disconnected = b.load(2, gone.signal, 'A');
    gone.abort();
    await assert.rejects(disconnected, (err: GraphQLError) => err.extensions.code === 'CLIENT_CLOSED_REQUEST');
    const late = b.loadAll([3, 4], undefined, 'D');
    const settled = Promise.allSettled([late]);
    t.mock.timers.tick(100);
    const [outcome] = await settled;
    assert.equal(outcome.status, 'rejected');
    assert.equal(((outcome as PromiseRejectedResult).reason as GraphQLError).extensions.code, 'SERVER_BUSY');
    assert.deepEqual(drops, [
      ['disconnected', 1],
      ['deadline', 2],
    ]);
    release();
    assert.equal(await running, 1);
  });
});
