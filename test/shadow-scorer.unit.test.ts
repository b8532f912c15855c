// The shadow scorer on its own (issue 25): which rows it samples and how many it queues, that it never
// runs the shadow inside the primary's run, the exact sums it keeps for one primary/shadow pair, why it
// drops rows, and how a withdrawal (promotion, reload, shutdown) stops it. The shadow service is a fake
// whose runs the test settles, so every count is known in advance.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queueWaitExceeded, serverBusy } from '../src/errors';
import type { Cancellation } from '../src/inference/batcher';
import type { InferenceService, PredictionResult } from '../src/inference/inference.service';
import { FAILURE_TYPES, type FailureTypeName, type Reading } from '../src/inference/model-io';
import {
  addTotals,
  SHADOW_DROP_REASONS,
  ShadowScorer,
  summarize,
  type ShadowDropReason,
  type ShadowHooks,
  type ShadowListener,
  type ShadowTotals,
} from '../src/inference/shadow-scorer';
import { NORMAL_READING } from './helpers/readings';

/** A promise settled from outside. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Lets the scorer's setImmediate flush run (and the promise callbacks queued before it). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Distinct readings, so a test can tell which rows reached the shadow. */
const rows = (n: number, from = 0): Reading[] => Array.from({ length: n }, (_, i) => ({ ...NORMAL_READING, toolWear: from + i }));

/** A prediction with the given class, probabilities (six, in FAILURE_TYPES order) and anomaly flag. */
function answer(type: FailureTypeName, probabilities: number[] = uniform(), isAnomaly = false): PredictionResult {
  return {
    id: `id-${type}`,
    reading: NORMAL_READING,
    predictedFailureType: type,
    label: type,
    probability: 0,
    failureProbability: 0,
    probabilities: FAILURE_TYPES.map((failureType, k) => ({ failureType, label: failureType, probability: probabilities[k] })),
    reconstructionError: 0,
    anomalyThreshold: 1,
    isAnomaly,
    device: 'cpu',
    modelVersion: 'test',
  };
}
function uniform(): number[] {
  return FAILURE_TYPES.map(() => 1 / FAILURE_TYPES.length);
}

/** A shadow service whose runs wait for the test: each predictMany call is recorded with its rows and signal. */
function fakeShadow(version = 'shadow-1') {
  const runs: Array<{ rows: Reading[]; signal: Cancellation | undefined; done: ReturnType<typeof deferred<PredictionResult[]>> }> = [];
  let idle: Promise<void> = Promise.resolve();
  const service = {
    manifest: { version },
    predictMany: (input: readonly Reading[], signal?: Cancellation) => {
      const done = deferred<PredictionResult[]>();
      runs.push({ rows: [...input], signal, done });
      return done.promise;
    },
    idle: () => idle,
  } as unknown as InferenceService;
  return {
    service,
    runs,
    holdIdle(gate: Promise<void>) {
      idle = gate;
    },
  };
}

/** A fixed sequence of "random" draws, recorded as they are taken. */
function draws(values: number[]) {
  let i = 0;
  const fn = () => {
    if (i >= values.length) throw new Error('more draws than the test planned');
    return values[i++];
  };
  return { fn, taken: () => i };
}

function recordingHooks() {
  const compared: Array<[number, Array<readonly [FailureTypeName, FailureTypeName, number]>]> = [];
  const dropped: Array<[ShadowDropReason, number]> = [];
  const hooks: ShadowHooks = {
    onCompared: (n, pairs) => compared.push([n, pairs.map((p) => [...p] as const)]),
    onDrop: (reason, n) => dropped.push([reason, n]),
  };
  return { hooks, compared, dropped };
}

const NO_DROPS: Record<ShadowDropReason, number> = { queue_full: 0, deadline: 0, failed: 0, withdrawn: 0 };

describe('ShadowScorer: sampling and the queue bound', () => {
  it('at rate 1 takes every row without drawing a random number', async () => {
    const shadow = fakeShadow();
    const random = draws([]);
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100, random: random.fn });
    const input = rows(5);
    scorer.offer(
      input,
      input.map(() => answer('NO_FAILURE')),
    );
    assert.equal(random.taken(), 0);
    assert.equal(scorer.queuedRows, 5);
    await turn();
    assert.deepEqual(shadow.runs[0].rows, input);
  });

  it('below rate 1 takes a row only when its draw is under the rate (a draw equal to the rate is skipped)', async () => {
    const shadow = fakeShadow();
    const random = draws([0.1, 0.25, 0.3, 0.2499, 0.9]);
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 0.25, maxQueueRows: 100, random: random.fn });
    assert.equal(scorer.sampleRate, 0.25);
    const input = rows(5);
    const primary = input.map((_, i) => answer(FAILURE_TYPES[i]));
    scorer.offer(input, primary);
    assert.equal(random.taken(), 5, 'one draw per row');
    assert.equal(scorer.queuedRows, 2);
    await turn();
    assert.equal(shadow.runs.length, 1);
    assert.deepEqual(shadow.runs[0].rows, [input[0], input[3]]);
    // The primary's answers stay paired with their rows: the comparison uses answers 0 and 3.
    const listened: Array<readonly PredictionResult[]> = [];
    const scorer2 = new ShadowScorer(shadow.service, {
      sampleRate: 0.25,
      maxQueueRows: 100,
      random: draws([0.9, 0.1]).fn,
      listener: (_r, _o, _v, p) => listened.push(p),
    });
    scorer2.offer(input.slice(0, 2), primary.slice(0, 2));
    await turn();
    shadow.runs[1].done.resolve([answer('NO_FAILURE')]);
    await scorer2.idle();
    assert.deepEqual(listened, [[primary[1]]]);
  });

  it('uses Math.random when no source is given (rate 0.5 over 2,000 rows takes about half)', async () => {
    const shadow = fakeShadow();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 0.5, maxQueueRows: 10_000 });
    scorer.offer(
      rows(2_000),
      rows(2_000).map(() => answer('NO_FAILURE')),
    );
    // 6 sigma of a binomial(2000, 0.5) is about 134 rows.
    assert.ok(Math.abs(scorer.queuedRows - 1_000) < 134, `took ${scorer.queuedRows}`);
    await turn();
  });

  it('queues at most maxQueueRows sampled rows in flight and counts the rest as queue_full', async () => {
    const shadow = fakeShadow();
    const { hooks, dropped } = recordingHooks();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 3, hooks });
    scorer.offer(rows(2), [answer('NO_FAILURE'), answer('NO_FAILURE')]);
    scorer.offer(rows(2, 2), [answer('NO_FAILURE'), answer('NO_FAILURE')]);
    assert.equal(scorer.queuedRows, 3);
    assert.deepEqual(dropped, [['queue_full', 1]]);
    await turn();
    // Rows in a run still count against the bound until that run settles.
    scorer.offer(rows(2, 4), [answer('NO_FAILURE'), answer('NO_FAILURE')]);
    assert.deepEqual(dropped, [
      ['queue_full', 1],
      ['queue_full', 2],
    ]);
    assert.deepEqual(scorer.droppedRows(), { ...NO_DROPS, queue_full: 3 });
    assert.deepEqual(shadow.runs[0].rows, rows(3));
    shadow.runs[0].done.resolve(rows(3).map(() => answer('NO_FAILURE')));
    await scorer.idle();
    assert.equal(scorer.queuedRows, 0);
    scorer.offer(rows(1), [answer('NO_FAILURE')]);
    assert.equal(scorer.queuedRows, 1, 'room again once the run settled');
    assert.equal(dropped.length, 2, 'no drop reported when nothing was dropped');
  });
});

describe('ShadowScorer: runs after the primary answered', () => {
  it('never runs the shadow inside offer; every offer before the next turn shares one shadow run', async () => {
    const shadow = fakeShadow();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100 });
    scorer.offer(rows(2), [answer('NO_FAILURE'), answer('NO_FAILURE')]);
    scorer.offer(rows(1, 2), [answer('NO_FAILURE')]);
    assert.equal(shadow.runs.length, 0, 'the shadow waits for the primary callers');
    await turn();
    assert.equal(shadow.runs.length, 1);
    assert.deepEqual(shadow.runs[0].rows, rows(3));
    // A later offer schedules a new run.
    scorer.offer(rows(1, 3), [answer('NO_FAILURE')]);
    await turn();
    assert.equal(shadow.runs.length, 2);
    assert.deepEqual(shadow.runs[1].rows, rows(1, 3));
  });

  it('schedules nothing when no row was sampled', async () => {
    const shadow = fakeShadow();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 0.5, maxQueueRows: 100, random: draws([0.7, 0.6]).fn });
    scorer.offer(rows(2), [answer('NO_FAILURE'), answer('NO_FAILURE')]);
    await turn();
    assert.equal(shadow.runs.length, 0);
    await scorer.idle();
  });
});

describe('ShadowScorer: at most one scheduled run per turn', () => {
  it('schedules one flush however many offers come before it, and none for an offer that sampled nothing', async () => {
    const shadow = fakeShadow();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 0.5, maxQueueRows: 100, random: draws([0.9, 0.1, 0.2, 0.3]).fn });
    // The host offers every primary run: a flush per offer would be one setImmediate per run under load.
    const real = globalThis.setImmediate;
    let scheduled = 0;
    globalThis.setImmediate = ((fn: () => void) => {
      scheduled++;
      return real(fn);
    }) as typeof setImmediate;
    try {
      scorer.offer(rows(1), [answer('NO_FAILURE')]);
      assert.equal(scheduled, 0, 'nothing sampled, nothing scheduled');
      scorer.offer(rows(1, 1), [answer('NO_FAILURE')]);
      scorer.offer(rows(2, 2), [answer('NO_FAILURE'), answer('NO_FAILURE')]);
      assert.equal(scheduled, 1);
    } finally {
      globalThis.setImmediate = real;
    }
    await turn();
    assert.deepEqual(
      shadow.runs.map((r) => r.rows),
      [rows(3, 1)],
    );
  });
});

describe('ShadowScorer: hooks with some callbacks missing', () => {
  it('compares with only onDrop, and drops with only onCompared, without an error', async () => {
    const shadow = fakeShadow();
    const drops: number[] = [];
    const onlyDrop = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100, hooks: { onDrop: (_r, n) => drops.push(n) } });
    onlyDrop.offer(rows(1), [answer('NO_FAILURE')]);
    await turn();
    shadow.runs[0].done.resolve([answer('NO_FAILURE')]);
    await turn();
    assert.equal(onlyDrop.queuedRows, 0, 'the run settled');
    assert.equal(onlyDrop.totalsSnapshot().rowsCompared, 1);

    const compared: number[] = [];
    const onlyCompared = new ShadowScorer(shadow.service, {
      sampleRate: 1,
      maxQueueRows: 1,
      hooks: { onCompared: (n) => compared.push(n) },
    });
    assert.doesNotThrow(() => onlyCompared.offer(rows(2), [answer('NO_FAILURE'), answer('NO_FAILURE')]));
    assert.deepEqual(onlyCompared.droppedRows(), { ...NO_DROPS, queue_full: 1 });
    assert.deepEqual(drops, []);
    assert.deepEqual(compared, []);
    await turn();
  });
});

describe('ShadowScorer: exact sums for the pair', () => {
  it('counts agreements, anomaly agreements, the mean absolute probability delta and each disagreeing pair', async () => {
    const shadow = fakeShadow('shadow-7');
    const { hooks, compared } = recordingHooks();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100, hooks });
    const p0 = [0.7, 0.1, 0.05, 0.05, 0.05, 0.05];
    const s0 = [0.4, 0.4, 0.05, 0.05, 0.05, 0.05]; // delta (0.3 + 0.3) / 6
    const primary = [
      answer('NO_FAILURE', p0, false),
      answer('POWER_FAILURE', uniform(), true),
      answer('POWER_FAILURE', uniform(), true),
      answer('NO_FAILURE', uniform(), false),
      answer('HEAT_DISSIPATION_FAILURE', uniform(), false),
    ];
    const answers = [
      answer('NO_FAILURE', s0, true),
      answer('NO_FAILURE', uniform(), true),
      answer('NO_FAILURE', uniform(), false),
      answer('NO_FAILURE', uniform(), false),
      answer('POWER_FAILURE', uniform(), false),
    ];
    scorer.offer(rows(5), primary);
    await turn();
    shadow.runs[0].done.resolve(answers);
    await scorer.idle();
    const totals = scorer.totalsSnapshot();
    assert.equal(totals.rowsCompared, 5);
    assert.equal(totals.sameFailureType, 2);
    assert.equal(totals.sameAnomaly, 3);
    assert.ok(Math.abs(totals.absProbabilityDeltaSum - 0.6 / 6) < 1e-12, String(totals.absProbabilityDeltaSum));
    assert.deepEqual(totals.disagreements, { 'POWER_FAILURE>NO_FAILURE': 2, 'HEAT_DISSIPATION_FAILURE>POWER_FAILURE': 1 });
    assert.deepEqual(compared, [
      [
        5,
        [
          ['POWER_FAILURE', 'NO_FAILURE', 2],
          ['HEAT_DISSIPATION_FAILURE', 'POWER_FAILURE', 1],
        ],
      ],
    ]);
    const summary = scorer.summary();
    assert.equal(summary.version, 'shadow-7');
    assert.equal(summary.rowsCompared, 5);
    assert.equal(summary.agreement, 2 / 5);
    assert.equal(summary.anomalyAgreement, 3 / 5);
    assert.ok(Math.abs(summary.meanAbsProbabilityDelta - 0.1 / 5) < 1e-12);
    assert.deepEqual(summary.disagreements, [
      { primary: 'POWER_FAILURE', shadow: 'NO_FAILURE', rows: 2 },
      { primary: 'HEAT_DISSIPATION_FAILURE', shadow: 'POWER_FAILURE', rows: 1 },
    ]);

    // A second run adds to the same sums (one pair's statistics run on until a new pair).
    scorer.offer(rows(1), [answer('POWER_FAILURE')]);
    await turn();
    shadow.runs[1].done.resolve([answer('NO_FAILURE')]);
    await scorer.idle();
    const after = scorer.totalsSnapshot();
    assert.equal(after.rowsCompared, 6);
    assert.equal(after.sameAnomaly, 4);
    assert.deepEqual(after.disagreements, { 'POWER_FAILURE>NO_FAILURE': 3, 'HEAT_DISSIPATION_FAILURE>POWER_FAILURE': 1 });
    assert.deepEqual(compared[1], [1, [['POWER_FAILURE', 'NO_FAILURE', 1]]]);
    assert.deepEqual(scorer.droppedRows(), NO_DROPS);
  });

  it('hands out copies of its sums: a caller changing them changes nothing', async () => {
    const shadow = fakeShadow();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100 });
    scorer.offer(rows(1), [answer('POWER_FAILURE')]);
    await turn();
    shadow.runs[0].done.resolve([answer('NO_FAILURE')]);
    await scorer.idle();
    const copy = scorer.totalsSnapshot();
    copy.rowsCompared = 99;
    copy.disagreements['POWER_FAILURE>NO_FAILURE'] = 99;
    const drops = scorer.droppedRows();
    drops.failed = 99;
    assert.equal(scorer.totalsSnapshot().rowsCompared, 1);
    assert.deepEqual(scorer.totalsSnapshot().disagreements, { 'POWER_FAILURE>NO_FAILURE': 1 });
    assert.deepEqual(scorer.droppedRows(), NO_DROPS);
  });

  it('tells the listener each run: its rows, the shadow answers, the version and the primary answers', async () => {
    const shadow = fakeShadow('shadow-9');
    const heard: Parameters<ShadowListener>[] = [];
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100, listener: (...args) => heard.push(args) });
    const input = rows(2);
    const primary = [answer('NO_FAILURE'), answer('POWER_FAILURE')];
    const outputs = [answer('NO_FAILURE'), answer('NO_FAILURE')];
    scorer.offer(input, primary);
    await turn();
    shadow.runs[0].done.resolve(outputs);
    await scorer.idle();
    assert.deepEqual(heard, [[input, outputs, 'shadow-9', primary]]);
  });

  it('a listener that throws does not stop the comparisons', async () => {
    const shadow = fakeShadow();
    let calls = 0;
    const scorer = new ShadowScorer(shadow.service, {
      sampleRate: 1,
      maxQueueRows: 100,
      listener: () => {
        calls++;
        throw new Error('log full');
      },
    });
    for (let run = 0; run < 2; run++) {
      scorer.offer(rows(1), [answer('NO_FAILURE')]);
      await turn();
      shadow.runs[run].done.resolve([answer('NO_FAILURE')]);
      await scorer.idle();
    }
    assert.equal(calls, 2);
    assert.equal(scorer.totalsSnapshot().rowsCompared, 2);
    assert.equal(scorer.queuedRows, 0);
  });
});

describe('ShadowScorer: dropped rows and their reasons', () => {
  const cases: Array<[string, unknown, ShadowDropReason]> = [
    ['rows that waited past MAX_QUEUE_WAIT_MS', queueWaitExceeded(100, 1), 'deadline'],
    ["the shadow's own queue full", serverBusy(10, 10), 'queue_full'],
    ['a failed run', new Error('onnx failed'), 'failed'],
    ['a rejection with no error object', undefined, 'failed'],
    [
      'another coded error',
      Object.assign(new Error('x'), { extensions: { code: 'INTERNAL_SERVER_ERROR', reason: 'QUEUE_WAIT' } }),
      'failed',
    ],
  ];
  for (const [what, err, reason] of cases) {
    it(`counts ${what} as ${reason}, compares nothing, and never calls the listener`, async () => {
      const shadow = fakeShadow();
      const { hooks, dropped, compared } = recordingHooks();
      let heard = 0;
      const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100, hooks, listener: () => heard++ });
      scorer.offer(rows(3), [answer('NO_FAILURE'), answer('NO_FAILURE'), answer('NO_FAILURE')]);
      await turn();
      shadow.runs[0].done.reject(err);
      await scorer.idle();
      assert.deepEqual(dropped, [[reason, 3]]);
      assert.deepEqual(scorer.droppedRows(), { ...NO_DROPS, [reason]: 3 });
      assert.deepEqual(compared, []);
      assert.equal(heard, 0);
      assert.equal(scorer.totalsSnapshot().rowsCompared, 0);
      assert.equal(scorer.queuedRows, 0);
    });
  }

  it('names its four drop reasons', () => {
    assert.deepEqual(SHADOW_DROP_REASONS, ['queue_full', 'deadline', 'failed', 'withdrawn']);
    assert.deepEqual(Object.keys(new ShadowScorer(fakeShadow().service, { sampleRate: 1, maxQueueRows: 1 }).droppedRows()), [
      ...SHADOW_DROP_REASONS,
    ]);
  });
});

describe('ShadowScorer: withdrawal', () => {
  it('drops rows still waiting as withdrawn, refuses new rows, and never calls the shadow for them', async () => {
    const shadow = fakeShadow();
    const { hooks, dropped } = recordingHooks();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100, hooks });
    scorer.offer(
      rows(4),
      rows(4).map(() => answer('NO_FAILURE')),
    );
    await scorer.withdraw();
    assert.deepEqual(dropped, [['withdrawn', 4]]);
    assert.equal(scorer.queuedRows, 0);
    await scorer.idle();
    scorer.offer(rows(2), [answer('NO_FAILURE'), answer('NO_FAILURE')]);
    assert.equal(scorer.queuedRows, 0, 'a withdrawn scorer takes no rows');
    await turn();
    assert.equal(shadow.runs.length, 0, 'the flush scheduled before the withdrawal finds nothing to run');
    await scorer.withdraw();
    assert.deepEqual(scorer.droppedRows(), { ...NO_DROPS, withdrawn: 4 }, 'a second withdrawal counts nothing again');
  });

  it("cancels the run in progress through its signal, and waits for the shadow's batcher to be idle", async () => {
    const shadow = fakeShadow();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100 });
    scorer.offer(rows(2), [answer('NO_FAILURE'), answer('NO_FAILURE')]);
    await turn();
    const signal = shadow.runs[0].signal;
    assert.ok(signal, 'the shadow run carries a cancellation');
    assert.equal(signal.aborted, false);
    const fired: string[] = [];
    const kept = () => fired.push('kept');
    const removed = () => fired.push('removed');
    signal.addEventListener('abort', kept);
    signal.addEventListener('abort', removed);
    signal.removeEventListener('abort', removed);

    const gate = deferred<void>();
    shadow.holdIdle(gate.promise);
    let withdrawn = false;
    const withdrawal = scorer.withdraw().then(() => (withdrawn = true));
    assert.equal(signal.aborted, true);
    assert.deepEqual(fired, ['kept']);
    await turn();
    assert.equal(withdrawn, false, "withdraw waits for the shadow's batcher");
    gate.resolve();
    await withdrawal;
    assert.equal(withdrawn, true);
  });

  it('a run rejected after the withdrawal counts its rows as withdrawn, whatever the error', async () => {
    const shadow = fakeShadow();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100 });
    scorer.offer(rows(2), [answer('NO_FAILURE'), answer('NO_FAILURE')]);
    await turn();
    await scorer.withdraw();
    assert.equal(scorer.queuedRows, 2, 'the rows in the run are still in flight');
    shadow.runs[0].done.reject(queueWaitExceeded(100, 1));
    await scorer.idle();
    assert.deepEqual(scorer.droppedRows(), { ...NO_DROPS, withdrawn: 2 });
  });

  it('a run answered after the withdrawal is neither compared, dropped nor handed to the listener', async () => {
    const shadow = fakeShadow();
    const { hooks, dropped, compared } = recordingHooks();
    let heard = 0;
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100, hooks, listener: () => heard++ });
    scorer.offer(rows(2), [answer('POWER_FAILURE'), answer('NO_FAILURE')]);
    await turn();
    await scorer.withdraw();
    shadow.runs[0].done.resolve([answer('NO_FAILURE'), answer('NO_FAILURE')]);
    await scorer.idle();
    assert.equal(scorer.queuedRows, 0);
    assert.equal(scorer.totalsSnapshot().rowsCompared, 0);
    assert.deepEqual(compared, []);
    assert.deepEqual(dropped, []);
    assert.equal(heard, 0);
  });
});

describe('ShadowScorer: idle', () => {
  it('resolves at once when nothing is in flight, otherwise once every sampled row settled', async () => {
    const shadow = fakeShadow();
    const scorer = new ShadowScorer(shadow.service, { sampleRate: 1, maxQueueRows: 100 });
    await scorer.idle();
    scorer.offer(rows(1), [answer('NO_FAILURE')]);
    await turn();
    scorer.offer(rows(1, 1), [answer('NO_FAILURE')]);
    await turn();
    let idle = 0;
    const first = scorer.idle().then(() => idle++);
    const second = scorer.idle().then(() => idle++);
    shadow.runs[0].done.resolve([answer('NO_FAILURE')]);
    await turn();
    assert.equal(idle, 0, 'one row is still running');
    assert.equal(scorer.queuedRows, 1);
    shadow.runs[1].done.resolve([answer('NO_FAILURE')]);
    await Promise.all([first, second]);
    assert.equal(idle, 2, 'every waiter resolves');
    // A later wait is not resolved by the earlier waiters' list.
    scorer.offer(rows(1, 2), [answer('NO_FAILURE')]);
    await turn();
    let later = false;
    const third = scorer.idle().then(() => (later = true));
    await turn();
    assert.equal(later, false);
    shadow.runs[2].done.resolve([answer('NO_FAILURE')]);
    await third;
  });
});

describe('summarize and addTotals', () => {
  const totals = (over: Partial<ShadowTotals> = {}): ShadowTotals => ({
    rowsCompared: 0,
    sameFailureType: 0,
    sameAnomaly: 0,
    absProbabilityDeltaSum: 0,
    disagreements: {},
    ...over,
  });

  it('reads a pair with no rows as full agreement and no delta', () => {
    assert.deepEqual(summarize('v', totals()), {
      version: 'v',
      rowsCompared: 0,
      agreement: 1,
      anomalyAgreement: 1,
      meanAbsProbabilityDelta: 0,
      disagreements: [],
    });
  });

  it('orders disagreements by rows, then by the primary class, then the shadow class (FAILURE_TYPES order)', () => {
    const s = summarize(
      'v',
      totals({
        rowsCompared: 40,
        sameFailureType: 30,
        sameAnomaly: 36,
        absProbabilityDeltaSum: 2,
        disagreements: {
          'TOOL_WEAR_FAILURE>NO_FAILURE': 2,
          'NO_FAILURE>TOOL_WEAR_FAILURE': 2,
          'NO_FAILURE>POWER_FAILURE': 2,
          'POWER_FAILURE>NO_FAILURE': 4,
        },
      }),
    );
    assert.equal(s.agreement, 0.75);
    assert.equal(s.anomalyAgreement, 0.9);
    assert.equal(s.meanAbsProbabilityDelta, 0.05);
    assert.deepEqual(
      s.disagreements.map((d) => `${d.primary}>${d.shadow}:${d.rows}`),
      ['POWER_FAILURE>NO_FAILURE:4', 'NO_FAILURE>POWER_FAILURE:2', 'NO_FAILURE>TOOL_WEAR_FAILURE:2', 'TOOL_WEAR_FAILURE>NO_FAILURE:2'],
    );
  });

  it("adds two workers' sums, merging disagreements, without changing either", () => {
    const a = totals({ rowsCompared: 3, sameFailureType: 2, sameAnomaly: 1, absProbabilityDeltaSum: 0.5, disagreements: { 'A>B': 1 } });
    const b = totals({
      rowsCompared: 5,
      sameFailureType: 4,
      sameAnomaly: 3,
      absProbabilityDeltaSum: 0.25,
      disagreements: { 'A>B': 2, 'C>D': 1 },
    });
    assert.deepEqual(addTotals(a, b), {
      rowsCompared: 8,
      sameFailureType: 6,
      sameAnomaly: 4,
      absProbabilityDeltaSum: 0.75,
      disagreements: { 'A>B': 3, 'C>D': 1 },
    });
    assert.deepEqual(a.disagreements, { 'A>B': 1 });
    assert.deepEqual(b.disagreements, { 'A>B': 2, 'C>D': 1 });
  });
});
