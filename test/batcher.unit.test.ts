import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GraphQLError } from 'graphql';
import { RowBatcher } from '../src/inference/batcher';

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
