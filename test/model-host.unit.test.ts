// The model host on its own (issue 25): what it reports in each lifecycle state (readiness only while
// ready), loads that race a shutdown, reloads that are refused (the serving model unchanged, not closed)
// or switch models, the shadow beside the primary (checked, sampled, dropped, promoted, its batcher's
// hooks kept out of the primary's metrics until promotion), the totals of one primary/shadow pair, and
// what close releases. Services are fakes that record what the host did to them; the logger records too.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { Logger } from 'pino';
import { ErrorCode } from '../src/errors';
import type { BatcherHooks, Cancellation } from '../src/inference/batcher';
import type { DriftMonitor } from '../src/inference/drift';
import type { InferenceService, PredictionResult, PredictionTap } from '../src/inference/inference.service';
import {
  ModelHost,
  ModelReloadError,
  ShadowDroppedError,
  type ModelObserver,
  type ModelState,
  type ServiceFactory,
  type ShadowPair,
} from '../src/inference/model-host';
import type { Reading } from '../src/inference/model-io';
import { summarize, type ShadowTotals } from '../src/inference/shadow-scorer';
import type { PredictionLog } from '../src/prediction-log/prediction-log';
import { NORMAL_READING } from './helpers/readings';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A service that records what the host asked of it; its golden check, runs, close and retire are settable. */
class FakeService {
  readonly manifest: { version: string; drift: { reference: string } };
  readonly device = 'cpu';
  events: string[] = [];
  golden: () => Promise<void> = () => Promise.resolve();
  closeResult: () => Promise<void> = () => Promise.resolve();
  retireResult: () => Promise<void> = () => Promise.resolve();
  idleGate: Promise<void> = Promise.resolve();
  tap: PredictionTap | undefined;
  served: DriftMonitor | undefined;
  log: PredictionLog | undefined;
  hooks: BatcherHooks | undefined;
  runs: Array<{ rows: Reading[]; signal: Cancellation | undefined; done: ReturnType<typeof deferred<PredictionResult[]>> }> = [];
  queued = 0;

  constructor(readonly version: string) {
    this.manifest = { version, drift: { reference: `ref-${version}` } };
  }
  checkGolden = () => {
    this.events.push('checkGolden');
    return this.golden();
  };
  close = () => {
    this.events.push('close');
    return this.closeResult();
  };
  retire = () => {
    this.events.push('retire');
    return this.retireResult();
  };
  tapPredictions = (tap: PredictionTap | undefined) => {
    this.events.push(tap ? 'tap' : 'untap');
    this.tap = tap;
  };
  reportServed = (monitor: DriftMonitor | undefined) => {
    this.events.push(monitor ? 'reportServed' : 'unreportServed');
    this.served = monitor;
  };
  logPredictions = (log: PredictionLog | undefined) => {
    this.events.push('logPredictions');
    this.log = log;
  };
  stats = () => ({ queuedRows: this.queued });
  idle = () => this.idleGate;
  predictMany = (rows: readonly Reading[], signal?: Cancellation) => {
    const done = deferred<PredictionResult[]>();
    this.runs.push({ rows: [...rows], signal, done });
    return done.promise;
  };
  get asService(): InferenceService {
    return this as unknown as InferenceService;
  }
}

/** A factory that hands out the given services in turn and records the hooks it was given. */
function factory(...services: FakeService[]) {
  const calls: Array<BatcherHooks | undefined> = [];
  const create: ServiceFactory = (hooks) => {
    calls.push(hooks);
    const next = services.shift();
    if (!next) return Promise.reject(new Error('no more services'));
    next.hooks = hooks;
    return Promise.resolve(next.asService);
  };
  return { create, calls };
}

function recordingLogger() {
  const lines: Array<{ level: 'info' | 'error'; obj: Record<string, unknown>; msg: string }> = [];
  const logger = {
    info: (obj: Record<string, unknown>, msg: string) => lines.push({ level: 'info', obj, msg }),
    error: (obj: Record<string, unknown>, msg: string) => lines.push({ level: 'error', obj, msg }),
  } as unknown as Logger;
  return { logger, lines };
}

/** An observer recording every call, in order. */
function recordingObserver() {
  const events: string[] = [];
  const ends: Array<{ trace: unknown; outcome: string; reason: string | undefined }> = [];
  const inference: BatcherHooks = {};
  const observer: ModelObserver = {
    inference,
    serving: (service) => events.push(`serving:${service.manifest.version}`),
    reloaded: (outcome) => events.push(`reloaded:${outcome}`),
    shadow: (scorer) => events.push(`shadow:${scorer ? scorer.version : 'none'}`),
    shadowHooks: { onDrop: (reason, rows) => events.push(`shadowDrop:${reason}:${rows}`) },
    reloadStarted: (trace) => {
      events.push('reloadStarted');
      return (outcome, reason) => ends.push({ trace, outcome, reason });
    },
  };
  return { observer, events, ends, inference };
}

function fakeDrift() {
  const references: unknown[] = [];
  const monitor = { useReference: (r: unknown) => references.push(r) } as unknown as DriftMonitor;
  return { monitor, references };
}

function fakeLog() {
  const shadows: Array<[readonly unknown[], readonly unknown[], string]> = [];
  let closed = 0;
  const log = {
    joinShadowAnswers: false,
    appendShadow: (primary: readonly unknown[], shadow: readonly unknown[], version: string) => shadows.push([primary, shadow, version]),
    close: () => {
      closed++;
      return Promise.resolve();
    },
  };
  return { log: log as unknown as PredictionLog & { joinShadowAnswers: boolean }, shadows, closed: () => closed };
}

function prediction(type: PredictionResult['predictedFailureType']): PredictionResult {
  return {
    id: 'p',
    reading: NORMAL_READING,
    predictedFailureType: type,
    label: type,
    probability: 1,
    failureProbability: 0,
    probabilities: [{ failureType: type, label: type, probability: 1 }],
    reconstructionError: 0,
    anomalyThreshold: 1,
    isAnomaly: false,
    device: 'cpu',
    modelVersion: 'v',
  };
}

const SHADOW_OPTIONS = { sampleRate: 1, maxQueueRows: 100 };

async function readyHost(version = 'v1', observer?: ModelObserver) {
  const host = new ModelHost();
  if (observer) host.observe(observer);
  const primary = new FakeService(version);
  await host.load(factory(primary).create);
  return { host, primary };
}

/** Asserts what the host reports in its current state, from the state alone. */
function assertReports(host: ModelHost, expected: ModelState['status'], serving: FakeService | undefined) {
  const status = host.state.status;
  assert.equal(status, expected);
  assert.equal(host.ready, status === 'ready', `ready in ${status}`);
  assert.equal(host.peek(), serving?.asService, `peek in ${status}`);
  if (serving) assert.equal(host.service(), serving.asService, `service() in ${status}`);
  else
    assert.throws(
      () => host.service(),
      (err: Error & { extensions?: Record<string, unknown> }) => {
        assert.equal(err.extensions?.code, ErrorCode.MODEL_NOT_READY);
        assert.equal(err.extensions?.state, status);
        assert.match(err.message, new RegExp(`\\(state: ${status}\\)`));
        return true;
      },
    );
}

describe('ModelHost: every state and what it reports', () => {
  it('readiness is true only while ready; service() and peek() give the serving model in ready and draining only', async () => {
    const host = new ModelHost();
    assertReports(host, 'loading', undefined);
    const primary = new FakeService('v1');
    await host.load(factory(primary).create);
    assertReports(host, 'ready', primary);
    host.drain();
    assertReports(host, 'draining', primary);
    host.drain();
    assertReports(host, 'draining', primary);
    await host.close();
    assertReports(host, 'closing', undefined);
    host.drain();
    assertReports(host, 'closing', undefined);

    const failed = new ModelHost();
    await assert.rejects(failed.load(() => Promise.reject(new Error('bad'))));
    assertReports(failed, 'failed', undefined);
    failed.drain();
    assertReports(failed, 'failed', undefined);

    const abandoned = new ModelHost();
    abandoned.drain();
    assertReports(abandoned, 'draining', undefined);
  });

  it('refuses a reload, a promotion and a shadow in every state but ready, naming the state', async () => {
    const states: Array<[ModelState['status'], () => Promise<ModelHost>]> = [
      ['loading', async () => new ModelHost()],
      [
        'failed',
        async () => {
          const h = new ModelHost();
          await h.load(() => Promise.reject(new Error('bad'))).catch(() => undefined);
          return h;
        },
      ],
      [
        'draining',
        async () => {
          const { host } = await readyHost();
          host.drain();
          return host;
        },
      ],
      [
        'closing',
        async () => {
          const { host } = await readyHost();
          await host.close();
          return host;
        },
      ],
    ];
    for (const [status, make] of states) {
      const host = await make();
      const { logger } = recordingLogger();
      for (const promoteShadow of [false, true]) {
        await assert.rejects(host.reload(logger, { promoteShadow }), (err: ModelReloadError) => {
          assert.ok(err instanceof ModelReloadError);
          assert.equal(err.reason, `no model is serving (state: ${status})`);
          return true;
        });
      }
      await assert.rejects(host.loadShadow(factory(new FakeService('s')).create, SHADOW_OPTIONS), {
        message: `cannot load a shadow model in state ${status}`,
      });
      if (status !== 'loading')
        await assert.rejects(host.load(factory(new FakeService('x')).create), { message: `cannot load a model in state ${status}` });
      assert.equal(host.state.status, status, 'a refusal changes no state');
      assert.equal(host.ready, false);
    }
    const { host } = await readyHost();
    await assert.rejects(host.load(factory(new FakeService('x')).create), { message: 'cannot load a model in state ready' });
    assert.equal(host.service().manifest.version, 'v1');
  });
});

describe('ModelHost: load', () => {
  it("gives the factory the observer's batcher hooks and starts serving: prediction log, drift reference and counts, observer", async () => {
    const { observer, events, inference } = recordingObserver();
    const drift = fakeDrift();
    const log = fakeLog();
    const host = new ModelHost();
    host.observe(observer);
    host.watchDrift(drift.monitor);
    host.predictionLog = log.log;
    const primary = new FakeService('v1');
    const f = factory(primary);
    const loaded = await host.load(f.create);
    assert.equal(loaded, primary.asService);
    assert.deepEqual(f.calls, [inference]);
    assert.equal(primary.log, log.log);
    assert.equal(primary.served, drift.monitor);
    assert.deepEqual(drift.references, [primary.manifest.drift]);
    assert.deepEqual(events, ['serving:v1']);
    assert.equal(host.driftMonitor, drift.monitor);
  });

  it('without a prediction log or drift monitor, tells the service neither', async () => {
    const { primary } = await readyHost();
    assert.deepEqual(primary.events, []);
  });

  it('a failed load leaves the host failed with that error, and rethrows it', async () => {
    const host = new ModelHost();
    const error = new Error('model.json: sha256 mismatch');
    await assert.rejects(
      host.load(() => Promise.reject(error)),
      (err) => err === error,
    );
    assert.deepEqual(host.state, { status: 'failed', error });
  });

  for (const [what, interrupt, status] of [
    ['drained', (h: ModelHost) => h.drain(), 'draining'],
    ['closed', (h: ModelHost) => void h.close(), 'closing'],
  ] as const) {
    it(`a model arriving after the host was ${what} is closed, not served, and the host stays ${status}`, async () => {
      const { observer, events } = recordingObserver();
      const host = new ModelHost();
      host.observe(observer);
      const pending = deferred<InferenceService>();
      const load = host.load(() => pending.promise);
      interrupt(host);
      const late = new FakeService('late');
      pending.resolve(late.asService);
      await assert.rejects(load, { message: `model host was ${status} while loading` });
      assert.deepEqual(late.events, ['close']);
      assert.equal(host.state.status, status);
      assert.equal(host.ready, false);
      assert.deepEqual(events, [], 'never served');
    });
  }

  it('keeps the cluster drift source it is given', () => {
    const host = new ModelHost();
    assert.equal(host.clusterDrift, undefined);
    const source = () => Promise.resolve('pm 1\n');
    host.useClusterDrift(source);
    assert.equal(host.clusterDrift, source);
  });
});

describe('ModelHost: reload', () => {
  it('switches to a candidate that passes its checks; the old model finishes its queue and is retired', async () => {
    const { observer, events, ends, inference } = recordingObserver();
    const drift = fakeDrift();
    const log = fakeLog();
    const host = new ModelHost();
    host.observe(observer);
    host.watchDrift(drift.monitor);
    host.predictionLog = log.log;
    const old = new FakeService('v1');
    const candidate = new FakeService('v2');
    const f = factory(old, candidate);
    await host.load(f.create);
    old.events = [];
    old.queued = 7;
    const { logger, lines } = recordingLogger();
    const trace = { span: 1 };
    const served = await host.reload(logger, { trace });
    assert.equal(served, candidate.asService);
    assertReports(host, 'ready', candidate);
    assert.deepEqual(f.calls, [inference, inference]);
    assert.deepEqual(candidate.events, ['checkGolden', 'logPredictions', 'reportServed']);
    assert.equal(candidate.served, drift.monitor);
    assert.equal(candidate.log, log.log);
    assert.deepEqual(drift.references, [old.manifest.drift, candidate.manifest.drift]);
    assert.deepEqual(old.events, ['untap', 'unreportServed', 'retire']);
    assert.deepEqual(events, ['serving:v1', 'reloadStarted', 'serving:v2', 'reloaded:ok']);
    assert.deepEqual(ends, [{ trace, outcome: 'ok', reason: undefined }]);
    assert.deepEqual(lines, [{ level: 'info', obj: { from: 'v1', to: 'v2', device: 'cpu', queuedOnOld: 7 }, msg: 'model reloaded' }]);
  });

  it('a reload without options (SIGHUP) passes no trace', async () => {
    const { observer, ends } = recordingObserver();
    const host = new ModelHost();
    host.observe(observer);
    await host.load(factory(new FakeService('v1'), new FakeService('v2')).create);
    await host.reload(recordingLogger().logger);
    assert.deepEqual(ends, [{ trace: undefined, outcome: 'ok', reason: undefined }]);
  });

  it('logs a failure to release the replaced model', async () => {
    const old = new FakeService('v1');
    old.retireResult = () => Promise.reject(new Error('release failed'));
    const host = new ModelHost();
    await host.load(factory(old, new FakeService('v2')).create);
    const { logger, lines } = recordingLogger();
    await host.reload(logger);
    await turn();
    const failure = lines.find((l) => l.level === 'error');
    assert.equal(failure?.msg, 'releasing the replaced model failed');
    assert.equal((failure?.obj.err as Error).message, 'release failed');
  });

  const refusals: Array<[string, (c: FakeService) => void, string, string[]]> = [
    [
      'fails its golden outputs',
      (c) => (c.golden = () => Promise.reject(new Error('golden case 3 outside tolerance'))),
      'golden case 3 outside tolerance',
      ['checkGolden', 'close'],
    ],
    [
      'fails its golden outputs and then fails to close',
      (c) => {
        c.golden = () => Promise.reject(new Error('golden case 4 outside tolerance'));
        c.closeResult = () => Promise.reject(new Error('release failed'));
      },
      'golden case 4 outside tolerance',
      ['checkGolden', 'close'],
    ],
  ];
  for (const [what, spoil, reason, candidateEvents] of refusals) {
    it(`refuses a candidate that ${what}: the old model keeps serving, untouched, and the reason is kept`, async () => {
      const { observer, events, ends } = recordingObserver();
      const { host, primary } = await readyHost('v1', observer);
      primary.events = [];
      const candidate = new FakeService('v2');
      spoil(candidate);
      (host as unknown as { factory: ServiceFactory }).factory = factory(candidate).create;
      const { logger, lines } = recordingLogger();
      await assert.rejects(host.reload(logger, { trace: 't' }), (err: ModelReloadError) => {
        assert.ok(err instanceof ModelReloadError);
        assert.equal(err.name, 'ModelReloadError');
        assert.equal(err.reason, reason);
        assert.equal(err.message, `model reload refused: ${reason}`);
        return true;
      });
      assertReports(host, 'ready', primary);
      assert.deepEqual(primary.events, [], 'not untapped, retired or closed');
      assert.deepEqual(candidate.events, candidateEvents);
      assert.deepEqual(events, ['serving:v1', 'reloadStarted', 'reloaded:refused']);
      assert.deepEqual(ends, [{ trace: 't', outcome: 'refused', reason }]);
      assert.deepEqual(lines, [{ level: 'error', obj: { reason }, msg: 'model reload refused; the serving model is unchanged' }]);
    });
  }

  it('refuses when the model directory no longer loads, with the loader error as the reason', async () => {
    const { host, primary } = await readyHost();
    (host as unknown as { factory: ServiceFactory }).factory = () => Promise.reject(new Error('ENOENT model.onnx'));
    await assert.rejects(host.reload(recordingLogger().logger), { reason: 'ENOENT model.onnx' });
    assertReports(host, 'ready', primary);
  });

  it('refuses a reload that the server began shutting down during, closing the candidate and keeping the old model', async () => {
    const { observer, events } = recordingObserver();
    const { host, primary } = await readyHost('v1', observer);
    primary.events = [];
    const candidate = new FakeService('v2');
    const golden = deferred<void>();
    candidate.golden = () => golden.promise;
    (host as unknown as { factory: ServiceFactory }).factory = factory(candidate).create;
    const reload = host.reload(recordingLogger().logger);
    await turn();
    host.drain();
    golden.resolve();
    await assert.rejects(reload, { reason: 'the server began shutting down during the reload (state: draining)' });
    assertReports(host, 'draining', primary);
    assert.deepEqual(candidate.events, ['checkGolden', 'close']);
    assert.deepEqual(primary.events, []);
    assert.deepEqual(events, ['serving:v1', 'reloadStarted', 'reloaded:refused']);
  });

  it('runs reloads one at a time, and a refused one does not block the next', async () => {
    const host = new ModelHost();
    const first = new FakeService('v2');
    const gate = deferred<void>();
    first.golden = () => gate.promise;
    const f = factory(new FakeService('v1'), first, new FakeService('v3'));
    await host.load(f.create);
    const { logger } = recordingLogger();
    const a = host.reload(logger);
    const b = host.reload(logger);
    await turn();
    assert.equal(f.calls.length, 2, 'the second reload waits for the first');
    gate.reject(new Error('golden mismatch'));
    await assert.rejects(a, { reason: 'golden mismatch' });
    assert.equal((await b).manifest.version, 'v3');
    assert.equal(host.service().manifest.version, 'v3');
  });
});

describe('ModelHost: the shadow', () => {
  async function withShadow(observer?: ModelObserver) {
    const { host, primary } = await readyHost('v1', observer);
    const shadow = new FakeService('s1');
    const f = factory(shadow);
    const scorer = await host.loadShadow(f.create, { sampleRate: 0.5, maxQueueRows: 10 });
    return { host, primary, shadow, scorer, f };
  }

  it("loads a checked shadow fed by the primary's runs, reports it, and has the prediction log join answers", async () => {
    const { observer, events, inference } = recordingObserver();
    const log = fakeLog();
    const host = new ModelHost();
    host.observe(observer);
    host.predictionLog = log.log;
    const primary = new FakeService('v1');
    await host.load(factory(primary).create);
    const shadow = new FakeService('s1');
    const f = factory(shadow);
    const scorer = await host.loadShadow(f.create, { sampleRate: 0.5, maxQueueRows: 10 });
    assert.equal(host.shadow(), scorer);
    assert.equal(scorer.service, shadow.asService);
    assert.equal(scorer.version, 's1');
    assert.equal(scorer.sampleRate, 0.5);
    assert.deepEqual(shadow.events, ['checkGolden'], 'checked, and not served: no drift, no log, no tap');
    assert.notEqual(f.calls[0], inference, "the shadow's batcher does not report to the primary's hooks");
    assert.ok(primary.tap, "the primary's runs are tapped");
    assert.equal(log.log.joinShadowAnswers, true);
    assert.deepEqual(events, ['serving:v1', 'shadow:s1']);

    // The tap feeds the scorer, which uses the observer's shadow hooks: a full queue is reported there.
    const many = Array.from({ length: 40 }, () => NORMAL_READING);
    primary.tap(
      many,
      many.map(() => prediction('NO_FAILURE')),
    );
    assert.equal(scorer.queuedRows, 10);
    assert.ok(events.some((e) => e.startsWith('shadowDrop:queue_full:')));
    await turn();
    assert.equal(shadow.runs.length, 1);
  });

  it('without a prediction log, loading a shadow needs none', async () => {
    const { host } = await withShadow();
    assert.ok(host.shadow());
  });

  it('hands every shadow run to the prediction log (under the primary answers) and then to the listener', async () => {
    const log = fakeLog();
    const { host, primary, shadow } = await withShadowHost();
    host.predictionLog = log.log;
    const heard: unknown[][] = [];
    host.onShadowScored((...args) => heard.push(args));
    const rows = [NORMAL_READING];
    const primaryAnswers = [prediction('NO_FAILURE')];
    const shadowAnswers = [prediction('POWER_FAILURE')];
    const run = async (n: number) => {
      primary.tap!(rows, primaryAnswers);
      await turn();
      shadow.runs[n].done.resolve(shadowAnswers);
      await host.shadow()!.idle();
    };
    await run(0);
    assert.deepEqual(log.shadows, [[primaryAnswers, shadowAnswers, 's1']]);
    assert.deepEqual(heard, [[rows, shadowAnswers, 's1', primaryAnswers]]);
    host.onShadowScored(undefined);
    await run(1);
    assert.equal(heard.length, 1, 'the listener was removed');
    assert.equal(log.shadows.length, 2);
    // Without a prediction log (PREDICTION_LOG unset) the listener still hears every run.
    host.predictionLog = undefined;
    const later: unknown[][] = [];
    host.onShadowScored((...args) => later.push(args));
    await run(2);
    assert.equal(later.length, 1);
    assert.equal(log.shadows.length, 2);
  });

  it("keeps the shadow's batcher hooks out of the primary's metrics until it is promoted", async () => {
    const { observer } = recordingObserver();
    const counted: unknown[][] = [];
    observer.inference = {
      onRun: (...a) => counted.push(['onRun', ...a]),
      onQueueWait: (...a) => counted.push(['onQueueWait', ...a]),
      onQueueChange: (...a) => counted.push(['onQueueChange', ...a]),
      onDrop: (...a) => counted.push(['onDrop', ...a]),
      onTracedWait: (...a) => counted.push(['onTracedWait', ...a]),
      onTracedRun: (...a) => counted.push(['onTracedRun', ...a]),
    };
    const { host, shadow } = await withShadow(observer);
    const hooks = shadow.hooks!;
    const fire = () => {
      hooks.onRun!(3, 0.01, true);
      hooks.onQueueWait!(0.002, 3);
      hooks.onQueueChange!(-3);
      hooks.onDrop!('disconnected', 2);
      hooks.onTracedWait!('trace', 5, 3, 'deadline');
      hooks.onTracedRun!(['trace'], 3, 6, true, undefined);
    };
    fire();
    assert.deepEqual(counted, [], 'a shadow run is not a primary run');
    await host.reload(recordingLogger().logger, { promoteShadow: true });
    fire();
    assert.deepEqual(counted, [
      ['onRun', 3, 0.01, true],
      ['onQueueWait', 0.002, 3],
      ['onQueueChange', -3],
      ['onDrop', 'disconnected', 2],
      ['onTracedWait', 'trace', 5, 3, 'deadline'],
      ['onTracedRun', ['trace'], 3, 6, true, undefined],
    ]);
  });

  for (const [what, inference] of [
    ['no callbacks', {}],
    ['only onRun', { onRun: () => undefined }],
  ] as const) {
    it(`a promoted shadow whose primary hooks have ${what} reports the ones there are, and no error`, async () => {
      const runs: number[] = [];
      const hooksOfPrimary: BatcherHooks = 'onRun' in inference ? { onRun: (rows) => runs.push(rows) } : {};
      const { host, shadow } = await withShadow({ inference: hooksOfPrimary });
      const hooks = shadow.hooks!;
      const fire = () => {
        hooks.onRun!(1, 0, true);
        hooks.onQueueWait!(0, 1);
        hooks.onQueueChange!(1);
        hooks.onDrop!('deadline', 1);
        hooks.onTracedWait!(undefined, 0, 1);
        hooks.onTracedRun!([], 1, 0, true, undefined);
      };
      assert.doesNotThrow(fire, 'before promotion: no target');
      await host.reload(recordingLogger().logger, { promoteShadow: true });
      assert.doesNotThrow(fire, 'after promotion: a target without (most) callbacks');
      assert.deepEqual(runs, 'onRun' in inference ? [1] : []);
    });
  }

  it('drops a shadow that fails its checks: closed, not kept, the primary untapped, the reason kept', async () => {
    const { observer, events } = recordingObserver();
    const { host, primary } = await readyHost('v1', observer);
    const shadow = new FakeService('s1');
    shadow.golden = () => Promise.reject(new Error('golden case 2 outside tolerance'));
    shadow.closeResult = () => Promise.reject(new Error('already gone'));
    await assert.rejects(host.loadShadow(factory(shadow).create, SHADOW_OPTIONS), { message: 'golden case 2 outside tolerance' });
    assert.equal(host.shadow(), undefined);
    assert.deepEqual(shadow.events, ['checkGolden', 'close']);
    assert.equal(primary.tap, undefined);
    assert.deepEqual(events, ['serving:v1']);
    assert.equal(host.shadowTotals(), undefined);
  });

  it('a shadow directory that does not load leaves no shadow, and no later reload tries it again', async () => {
    const { observer, events } = recordingObserver();
    const host = new ModelHost();
    host.observe(observer);
    const primary = factory(new FakeService('v1'), new FakeService('v2'));
    await host.load(primary.create);
    let shadowLoads = 0;
    const broken: ServiceFactory = () => {
      shadowLoads++;
      return Promise.reject(new Error('no model.json'));
    };
    await assert.rejects(host.loadShadow(broken, SHADOW_OPTIONS), { message: 'no model.json' });
    assert.equal(host.shadow(), undefined);
    const served = await host.reload(recordingLogger().logger);
    assert.equal(served.manifest.version, 'v2');
    assert.equal(shadowLoads, 1, 'the dropped shadow is not loaded again');
    assert.equal(host.shadow(), undefined);
    assert.ok(events.includes('reloaded:ok'), events.join());
  });

  it('closes a shadow that arrives after the host began draining', async () => {
    const { host, primary } = await readyHost();
    const pending = deferred<InferenceService>();
    const load = host.loadShadow(() => pending.promise, SHADOW_OPTIONS);
    host.drain();
    const late = new FakeService('s1');
    pending.resolve(late.asService);
    await assert.rejects(load, { message: 'model host was draining while loading the shadow' });
    assert.deepEqual(late.events, ['checkGolden', 'close']);
    assert.equal(host.shadow(), undefined);
    assert.equal(primary.tap, undefined);
  });

  it("reports this pair's totals, summed through the aggregate when one is set", async () => {
    const { host } = await readyHost();
    assert.equal(host.shadowTotals(), undefined);
    assert.equal(await host.shadowSummary(), undefined);
    const scorer = await host.loadShadow(factory(new FakeService('s1')).create, SHADOW_OPTIONS);
    const local = host.shadowTotals();
    assert.deepEqual(local, { pair: { primary: 'v1', shadow: 's1' }, totals: scorer.totalsSnapshot() });
    assert.deepEqual(await host.shadowSummary(), summarize('s1', scorer.totalsSnapshot()));

    const asked: Array<[ShadowPair, ShadowTotals]> = [];
    const cluster: ShadowTotals = {
      rowsCompared: 10,
      sameFailureType: 8,
      sameAnomaly: 9,
      absProbabilityDeltaSum: 1,
      disagreements: { 'NO_FAILURE>POWER_FAILURE': 2 },
    };
    host.useShadowAggregate((pair, totals) => {
      asked.push([pair, totals]);
      return Promise.resolve(cluster);
    });
    assert.deepEqual(await host.shadowSummary(), summarize('s1', cluster));
    assert.deepEqual(asked, [[{ primary: 'v1', shadow: 's1' }, scorer.totalsSnapshot()]]);
  });

  it('has no totals while no model is serving, even with a shadow', async () => {
    const { host } = await withShadow();
    host.drain();
    assert.ok(host.shadowTotals(), 'draining still serves');
    await host.close();
    assert.equal(host.shadowTotals(), undefined);
    assert.equal(host.shadow(), undefined);
  });

  it('a reload reloads the shadow too: a new pair (statistics start again), the old shadow withdrawn and closed', async () => {
    const { observer, events, ends } = recordingObserver();
    const { host, primary, shadow: oldShadow, scorer: oldScorer, f } = await withShadow(observer);
    const candidate = new FakeService('v2');
    (host as unknown as { factory: ServiceFactory }).factory = factory(candidate).create;
    const newShadow = new FakeService('s2');
    const shadowFactory = factory(newShadow);
    (host as unknown as { shadowFactory: ServiceFactory }).shadowFactory = shadowFactory.create;
    assert.equal(f.calls.length, 1);
    primary.events = [];
    const { logger, lines } = recordingLogger();
    await host.reload(logger);
    await turn();
    const scorer = host.shadow();
    assert.ok(scorer && scorer !== oldScorer);
    assert.equal(scorer.version, 's2');
    assert.equal(scorer.sampleRate, 0.5, 'the same shadow options');
    assert.ok(candidate.tap, 'the new primary feeds the new shadow');
    assert.deepEqual(primary.events, ['untap', 'unreportServed', 'retire']);
    assert.deepEqual(oldShadow.events, ['checkGolden', 'close']);
    assert.deepEqual(newShadow.events, ['checkGolden']);
    assert.notEqual(shadowFactory.calls[0], observer.inference);
    assert.deepEqual(host.shadowTotals()?.pair, { primary: 'v2', shadow: 's2' });
    assert.deepEqual(events, ['serving:v1', 'shadow:s1', 'reloadStarted', 'serving:v2', 'shadow:s2', 'reloaded:ok']);
    assert.deepEqual(ends, [{ trace: undefined, outcome: 'ok', reason: undefined }]);
    assert.deepEqual(lines[0], {
      level: 'info',
      obj: { from: 'v1', to: 'v2', device: 'cpu', queuedOnOld: 0, shadow: 's2' },
      msg: 'model reloaded',
    });
  });

  it('logs a failure to release the replaced shadow', async () => {
    const { host, shadow } = await withShadow();
    shadow.closeResult = () => Promise.reject(new Error('shadow release failed'));
    (host as unknown as { factory: ServiceFactory }).factory = factory(new FakeService('v2')).create;
    (host as unknown as { shadowFactory: ServiceFactory }).shadowFactory = factory(new FakeService('s2')).create;
    const { logger, lines } = recordingLogger();
    await host.reload(logger);
    await turn();
    await turn();
    const failure = lines.find((l) => l.level === 'error');
    assert.equal(failure?.msg, 'releasing the replaced shadow model failed');
    assert.equal((failure?.obj.err as Error).message, 'shadow release failed');
  });

  it('a shadow failing its checks at a reload is dropped; the primary still switches, and the error names the serving version', async () => {
    const { observer, events, ends } = recordingObserver();
    const { host, shadow: oldShadow } = await withShadow(observer);
    const candidate = new FakeService('v2');
    const later = new FakeService('v3');
    (host as unknown as { factory: ServiceFactory }).factory = factory(candidate, later).create;
    const badShadow = new FakeService('s2');
    badShadow.golden = () => Promise.reject(new Error('golden case 1 outside tolerance'));
    const shadowFactory = factory(badShadow, new FakeService('s3'));
    (host as unknown as { shadowFactory: ServiceFactory }).shadowFactory = shadowFactory.create;
    const { logger, lines } = recordingLogger();
    await assert.rejects(host.reload(logger), (err: ShadowDroppedError) => {
      assert.ok(err instanceof ShadowDroppedError);
      assert.ok(err instanceof ModelReloadError);
      assert.equal(err.name, 'ShadowDroppedError');
      assert.equal(err.servingVersion, 'v2');
      assert.equal(err.reason, 'the shadow model (SHADOW_MODEL_DIR) failed its checks and was dropped: golden case 1 outside tolerance');
      assert.equal(err.message, `model reload refused: ${err.reason}`);
      return true;
    });
    assertReports(host, 'ready', candidate);
    assert.equal(host.shadow(), undefined);
    assert.equal(host.shadowTotals(), undefined);
    assert.deepEqual(badShadow.events, ['checkGolden', 'close']);
    await turn();
    assert.deepEqual(oldShadow.events, ['checkGolden', 'close']);
    assert.deepEqual(events, ['serving:v1', 'shadow:s1', 'reloadStarted', 'serving:v2', 'shadow:none', 'reloaded:refused']);
    assert.deepEqual(ends, [{ trace: undefined, outcome: 'refused', reason: 'golden case 1 outside tolerance' }]);
    const error = lines.find((l) => l.level === 'error');
    assert.deepEqual(error, {
      level: 'error',
      obj: { reason: 'golden case 1 outside tolerance', serving: 'v2' },
      msg: 'shadow model refused at reload; no shadow remains',
    });
    // No shadow remains: the next reload loads the primary alone.
    await host.reload(logger);
    assert.equal(shadowFactory.calls.length, 1);
    assert.equal(host.shadow(), undefined);
    assert.equal(host.service().manifest.version, 'v3');
  });

  it('a reload with no shadow reports no shadow change', async () => {
    const { observer, events } = recordingObserver();
    const host = new ModelHost();
    host.observe(observer);
    await host.load(factory(new FakeService('v1'), new FakeService('v2')).create);
    await host.reload(recordingLogger().logger);
    assert.deepEqual(events, ['serving:v1', 'reloadStarted', 'serving:v2', 'reloaded:ok']);
  });

  it('a reload refused while draining also closes the reloaded shadow', async () => {
    const { host } = await withShadow();
    const candidate = new FakeService('v2');
    (host as unknown as { factory: ServiceFactory }).factory = factory(candidate).create;
    const newShadow = new FakeService('s2');
    const gate = deferred<void>();
    newShadow.golden = () => gate.promise;
    (host as unknown as { shadowFactory: ServiceFactory }).shadowFactory = factory(newShadow).create;
    const reload = host.reload(recordingLogger().logger);
    await turn();
    host.drain();
    gate.resolve();
    await assert.rejects(reload, { reason: 'the server began shutting down during the reload (state: draining)' });
    assert.deepEqual(candidate.events, ['checkGolden', 'close']);
    assert.deepEqual(newShadow.events, ['checkGolden', 'close']);
    assert.equal(host.shadow()?.version, 's1', 'the old pair is untouched');
  });
});

describe('ModelHost: promotion', () => {
  it('refuses with no shadow, naming why; nothing changes', async () => {
    const { observer, events, ends } = recordingObserver();
    const { host, primary } = await readyHost('v1', observer);
    const { logger, lines } = recordingLogger();
    const reason = 'there is no shadow model to promote (SHADOW_MODEL_DIR unset, or dropped)';
    await assert.rejects(host.reload(logger, { promoteShadow: true, trace: 'tr' }), (err: ModelReloadError) => {
      assert.ok(err instanceof ModelReloadError);
      assert.equal(err.reason, reason);
      return true;
    });
    assertReports(host, 'ready', primary);
    assert.deepEqual(events, ['serving:v1', 'reloadStarted', 'reloaded:refused']);
    assert.deepEqual(ends, [{ trace: 'tr', outcome: 'refused', reason }]);
    assert.deepEqual(lines, [{ level: 'error', obj: { reason }, msg: 'shadow promotion refused; the serving model is unchanged' }]);
  });

  it('makes the shadow the primary in one step: withdrawn, served, its directory the one later reloads load', async () => {
    const { observer, events, ends } = recordingObserver();
    const drift = fakeDrift();
    const log = fakeLog();
    const host = new ModelHost();
    host.observe(observer);
    host.watchDrift(drift.monitor);
    host.predictionLog = log.log;
    const primary = new FakeService('v1');
    const primaryFactory = factory(primary, new FakeService('never'));
    await host.load(primaryFactory.create);
    const shadow = new FakeService('s1');
    const nextFromShadowDir = new FakeService('s1-reloaded');
    const shadowFactory = factory(shadow, nextFromShadowDir);
    const scorer = await host.loadShadow(shadowFactory.create, SHADOW_OPTIONS);
    primary.tap!([NORMAL_READING, NORMAL_READING], [prediction('NO_FAILURE'), prediction('NO_FAILURE')]);
    assert.equal(scorer.queuedRows, 2, 'rows waiting for the shadow');
    primary.events = [];
    shadow.events = [];
    primary.queued = 4;
    const { logger, lines } = recordingLogger();
    const promoted = await host.reload(logger, { promoteShadow: true, trace: 'tp' });
    assert.equal(promoted, shadow.asService);
    assertReports(host, 'ready', shadow);
    assert.equal(scorer.queuedRows, 0, 'its waiting shadow rows were withdrawn');
    assert.deepEqual(scorer.droppedRows().withdrawn, 2);
    assert.equal(host.shadow(), undefined);
    assert.deepEqual(shadow.events, ['logPredictions', 'reportServed']);
    assert.equal(shadow.log, log.log);
    assert.equal(shadow.served, drift.monitor);
    assert.deepEqual(drift.references.at(-1), shadow.manifest.drift);
    assert.deepEqual(primary.events, ['untap', 'unreportServed', 'retire']);
    assert.deepEqual(
      events.filter((e) => !e.startsWith('shadowDrop')),
      ['serving:v1', 'shadow:s1', 'reloadStarted', 'serving:s1', 'shadow:none', 'reloaded:ok'],
    );
    assert.deepEqual(ends, [{ trace: 'tp', outcome: 'ok', reason: undefined }]);
    assert.deepEqual(lines, [
      { level: 'info', obj: { from: 'v1', to: 's1', rowsCompared: 0, queuedOnOld: 4 }, msg: 'shadow model promoted' },
    ]);

    // A later reload loads the promoted model's directory, with the primary's hooks, and no shadow.
    await host.reload(logger);
    assert.equal(host.service(), nextFromShadowDir.asService);
    assert.equal(primaryFactory.calls.length, 1);
    assert.deepEqual(shadowFactory.calls.at(-1), observer.inference);
    assert.equal(host.shadow(), undefined);
    await assert.rejects(host.reload(logger, { promoteShadow: true }), { reason: /no shadow model to promote/ });
  });

  it('logs a failure to release the replaced primary', async () => {
    const { host, primary } = await withShadowHost();
    primary.retireResult = () => Promise.reject(new Error('old release failed'));
    const { logger, lines } = recordingLogger();
    await host.reload(logger, { promoteShadow: true });
    await turn();
    const failure = lines.find((l) => l.level === 'error');
    assert.equal(failure?.msg, 'releasing the replaced model failed');
    assert.equal((failure?.obj.err as Error).message, 'old release failed');
  });

  it('refuses a promotion the server began shutting down during; the old primary keeps its sessions', async () => {
    const { observer, events } = recordingObserver();
    const { host, primary, shadow } = await withShadowHost(observer);
    const gate = deferred<void>();
    shadow.idleGate = gate.promise;
    primary.events = [];
    const promotion = host.reload(recordingLogger().logger, { promoteShadow: true });
    await turn();
    host.drain();
    gate.resolve();
    await assert.rejects(promotion, { reason: 'the server began shutting down during the promotion (state: draining)' });
    assertReports(host, 'draining', primary);
    assert.deepEqual(primary.events, []);
    assert.deepEqual(events.at(-1), 'reloaded:refused');
  });
});

async function withShadowHost(observer?: ModelObserver) {
  const { host, primary } = await readyHost('v1', observer);
  const shadow = new FakeService('s1');
  await host.loadShadow(factory(shadow).create, SHADOW_OPTIONS);
  return { host, primary, shadow };
}

describe('ModelHost: close', () => {
  it('releases the shadow, then the primary, then writes out the prediction log', async () => {
    const { observer, events } = recordingObserver();
    const order: string[] = [];
    const log = fakeLog();
    const { host, primary, shadow } = await withShadowHost(observer);
    host.predictionLog = log.log;
    shadow.close = () => (order.push('shadow'), Promise.resolve());
    primary.close = () => (order.push('primary'), Promise.resolve());
    (log.log as { close: () => Promise<void> }).close = () => (order.push('log'), Promise.resolve());
    await host.close();
    assert.deepEqual(order, ['shadow', 'primary', 'log']);
    assertReports(host, 'closing', undefined);
    assert.equal(host.shadow(), undefined);
    assert.equal(events.at(-1), 'shadow:none');
  });

  it('closes the model still serving a drain', async () => {
    const { host, primary } = await readyHost();
    host.drain();
    await host.close();
    assert.deepEqual(primary.events, ['close']);
  });

  it('closes nothing but the log when no model was loaded', async () => {
    const log = fakeLog();
    const host = new ModelHost();
    host.predictionLog = log.log;
    host.drain();
    await host.close();
    assert.equal(log.closed(), 1);
    assertReports(host, 'closing', undefined);
  });

  it('gives a shadow run still in progress one second, then closes the shadow anyway', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { host, primary, shadow } = await withShadowHost();
      shadow.idleGate = new Promise(() => undefined);
      let closed = false;
      const closing = host.close().then(() => (closed = true));
      await turn();
      mock.timers.tick(999);
      await turn();
      assert.equal(closed, false, 'waits for the shadow up to a second');
      assert.deepEqual(shadow.events, ['checkGolden']);
      mock.timers.tick(1);
      await closing;
      assert.deepEqual(shadow.events, ['checkGolden', 'close']);
      assert.deepEqual(primary.events.at(-1), 'close');
    } finally {
      mock.timers.reset();
    }
  });

  it('does not wait for the grace second when the shadow is idle', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { host, shadow } = await withShadowHost();
      await host.close();
      assert.deepEqual(shadow.events, ['checkGolden', 'close']);
    } finally {
      mock.timers.reset();
    }
  });
});
