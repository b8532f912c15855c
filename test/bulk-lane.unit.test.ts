// The bulk lane (src/http/bulk-lane.ts): large requests' steps run one per turn, after small requests.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { BulkLane } from '../src/http/bulk-lane';

/** Stands in for a response: the lane only listens for its 'close'. */
const response = () => new EventEmitter() as unknown as ServerResponse;
const unexpected = (err: unknown) => assert.fail(`a step failed: ${String(err)}`);

describe('BulkLane', () => {
  it('runs steps in order, one per turn of the event loop, none synchronously', async () => {
    const lane = new BulkLane();
    const ran: string[] = [];
    lane.run(() => ran.push('a'), unexpected);
    lane.run(() => ran.push('b'), unexpected);
    lane.run(() => ran.push('c'), unexpected);
    assert.deepEqual(ran, [], 'nothing runs in the caller’s turn');
    await nextTurn();
    assert.deepEqual(ran, ['a']);
    await nextTurn();
    assert.deepEqual(ran, ['a', 'b']);
    await nextTurn();
    assert.deepEqual(ran, ['a', 'b', 'c']);
    assert.equal(lane.waiting, 0);
  });

  it('holds steps while a small request is in flight and runs them when its response closes', async () => {
    const lane = new BulkLane({ maxDeferMs: 10_000 });
    const res = response();
    lane.trackSmall(res);
    assert.equal(lane.smallInFlight, 1);
    const ran: number[] = [];
    lane.run(() => ran.push(1), unexpected);
    await sleep(20);
    assert.deepEqual(ran, [], 'deferred behind the small request');
    assert.equal(lane.waiting, 1);
    res.emit('close');
    assert.equal(lane.smallInFlight, 0);
    await nextTurn();
    assert.deepEqual(ran, [1]);
  });

  it('waits for every small request, not only the first to close', async () => {
    const lane = new BulkLane({ maxDeferMs: 10_000 });
    const [r1, r2] = [response(), response()];
    lane.trackSmall(r1);
    lane.trackSmall(r2);
    let ran = false;
    lane.run(() => (ran = true), unexpected);
    r1.emit('close');
    await sleep(10);
    assert.equal(ran, false);
    r2.emit('close');
    await nextTurn();
    assert.equal(ran, true);
  });

  it('runs a step that has waited maxDeferMs even while small requests keep coming', async () => {
    const lane = new BulkLane({ maxDeferMs: 30 });
    lane.trackSmall(response()); // never closes
    const started = performance.now();
    let ranAfter = -1;
    lane.run(() => (ranAfter = performance.now() - started), unexpected);
    await sleep(15);
    assert.equal(ranAfter, -1);
    await sleep(60);
    assert.ok(ranAfter >= 29, `ran after ${ranAfter} ms, not before the deadline`);
  });

  it('hands a throwing step’s error to its fail callback and goes on with the next steps', async () => {
    const lane = new BulkLane();
    const ran: number[] = [];
    const failures: unknown[] = [];
    lane.run(
      () => {
        throw new Error('step failed');
      },
      (err) => failures.push(err),
    );
    lane.run(() => ran.push(2), unexpected);
    await sleep(10);
    assert.deepEqual(
      failures.map((e) => (e as Error).message),
      ['step failed'],
    );
    assert.deepEqual(ran, [2]);
  });

  it('admits large bodies up to maxLargeBytes together and takes each back when its response closes', () => {
    const lane = new BulkLane({ maxLargeBytes: 1_000 });
    const [a, b, c] = [response(), response(), response()];
    assert.equal(lane.admit(600, a), true);
    assert.equal(lane.admit(400, b), true, 'exactly the budget is fine');
    assert.equal(lane.admit(1, c), false);
    assert.equal(lane.largeBytesInFlight, 1_000);
    a.emit('close');
    assert.equal(lane.largeBytesInFlight, 400);
    assert.equal(lane.admit(600, c), true);
    assert.equal(lane.admit(1, response()), false);
    b.emit('close');
    c.emit('close');
    assert.equal(lane.largeBytesInFlight, 0);
  });
});
