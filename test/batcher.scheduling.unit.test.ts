// RowBatcher details test/batcher.unit.test.ts leaves open: statistics over several runs, repeated rows,
// and when a run is scheduled.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RowBatcher } from '../src/inference/batcher';

function recorder() {
  const calls: number[][] = [];
  return { calls, run: async (rows: readonly number[]) => (calls.push([...rows]), rows.map((r) => r * 2)) };
}

/** Blocks the thread so that a 1 ms timer is due when the loop moves on. */
function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe('RowBatcher statistics and scheduling', () => {
  it('reports zeros before the first run, then the mean rows per run over several runs', async () => {
    const r = recorder();
    const b = new RowBatcher({ runBatch: r.run, maxBatchSize: 4 });
    assert.deepEqual(b.stats(), {
      runs: 0,
      rows: 0,
      failedRuns: 0,
      queuedRows: 0,
      meanRowsPerRun: 0,
      dropped: { deadline: 0, disconnected: 0 },
    });
    await b.loadAll([1, 2, 3, 4, 5, 6]); // runs of 4 and 2
    assert.deepEqual(
      r.calls.map((c) => c.length),
      [4, 2],
    );
    assert.deepEqual(b.stats(), {
      runs: 2,
      rows: 6,
      failedRuns: 0,
      queuedRows: 0,
      meanRowsPerRun: 3,
      dropped: { deadline: 0, disconnected: 0 },
    });
  });

  it('runs a row that is requested twice twice (no caching across or within calls)', async () => {
    const r = recorder();
    const b = new RowBatcher({ runBatch: r.run });
    const row = 7;
    assert.deepEqual(await Promise.all([b.load(row), b.load(row), b.loadAll([row, row])]), [14, 14, [14, 14]]);
    assert.deepEqual(r.calls, [[7, 7, 7, 7]]);
    assert.equal(await b.load(row), 14);
    assert.deepEqual(r.calls, [[7, 7, 7, 7], [7]]);
    assert.equal(b.stats().queuedRows, 0);
    assert.equal(b.stats().rows, 5);
  });

  it('with maxWaitMs 0 a run starts in the check phase, after the timers of the same loop turn', async () => {
    // Inside a check-phase callback: row 1 is queued, then a 0 ms timer queues row 2. The timer is due
    // when the next loop turn starts, and timers run before the check phase, so row 2 joins row 1's run.
    // A run scheduled on a timer instead (the maxWaitMs > 0 path) fires before row 2's timer: two runs.
    const r = recorder();
    const b = new RowBatcher({ runBatch: r.run, maxWaitMs: 0 });
    const results = await new Promise<number[]>((resolve, reject) => {
      setImmediate(() => {
        const first = b.load(1);
        setTimeout(() => {
          Promise.all([first, b.load(2)]).then(resolve, reject);
        }, 0);
        busyWait(3);
      });
    });
    assert.deepEqual(results, [2, 4]);
    assert.deepEqual(r.calls, [[1, 2]]);
  });

  it('with maxWaitMs > 0 a run waits for that many milliseconds, not for the check phase', async () => {
    const r = recorder();
    const b = new RowBatcher({ runBatch: r.run, maxWaitMs: 40 });
    const first = b.load(1);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(r.calls, [], 'nothing ran one loop turn later');
    const second = b.load(2);
    assert.deepEqual(await Promise.all([first, second]), [2, 4]);
    assert.deepEqual(r.calls, [[1, 2]]);
  });
});
