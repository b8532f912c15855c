// A serving process's side of src/cluster.ts (attachProcess) and the cluster's rate-limit store
// (src/protection/cluster-store.ts), in-process: the IPC pipe is a recording process.send and the primary's
// answers arrive as 'message' events, as in test/cluster-ipc.unit.test.ts. What goes wrong for an operator:
// a worker's /metrics showing only itself, its readiness never told to the primary, a shadow summary that
// waits forever on a silent primary, SIGHUP not reloading the model or the trusted documents, a store whose
// requests the primary files under the wrong budget.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { App } from '../src/app';
import { attachProcess, runPrimary, type PrimaryCluster } from '../src/cluster';
import type { IpcRequest } from '../src/cluster-ipc';
import { loadConfig } from '../src/config';
import type { ModelHost, ShadowAggregate, ShadowPair } from '../src/inference/model-host';
import type { ShadowTotals } from '../src/inference/shadow-scorer';
import { Metrics } from '../src/observability/metrics';
import { ClusterRateLimitStore } from '../src/protection/cluster-store';
import { MemoryRateLimitStore } from '../src/protection/store';
import { FakeCluster, FakeProcess } from './helpers/fake-cluster';

type SendCallback = (err: Error | null) => void;
let sent: IpcRequest[] = [];
/** Where process.send's messages also go (a primary answering them), besides `sent`. */
let forward: ((message: IpcRequest) => void) | undefined;
const realSend = process.send;
const realConnected = Object.getOwnPropertyDescriptor(process, 'connected');

beforeEach(() => {
  sent = [];
  forward = undefined;
  process.send = ((message: IpcRequest, _handle: unknown, _options: unknown, callback?: SendCallback) => {
    sent.push(message);
    forward?.(message);
    if (callback) setImmediate(() => callback(null));
    return true;
  }) as typeof process.send;
  Object.defineProperty(process, 'connected', { value: true, configurable: true });
});
afterEach(() => {
  process.send = realSend;
  if (realConnected) Object.defineProperty(process, 'connected', realConnected);
  else delete (process as { connected?: boolean }).connected;
  process.removeAllListeners('message');
  process.removeAllListeners('SIGHUP');
});

const fromPrimary = (message: unknown) => process.emit('message' as never, message as never);
const settle = () => new Promise((resolve) => setImmediate(resolve));

interface Line {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}
function recordingLogger() {
  const lines: Line[] = [];
  const at = (level: string) => (a: unknown, b?: string) =>
    lines.push(typeof a === 'string' ? { level, fields: {}, msg: a } : { level, fields: a as Record<string, unknown>, msg: b! });
  const logger = {
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    flush: () => undefined,
  } as unknown as Logger;
  return { logger, lines };
}

const PAIR: ShadowPair = { primary: '1.0.0', shadow: '2.0.0' };
const TOTALS = (rows: number): ShadowTotals => ({
  rowsCompared: rows,
  sameFailureType: rows,
  sameAnomaly: rows,
  absProbabilityDeltaSum: 0,
  disagreements: {},
});

/** The parts of a ModelHost attachProcess wires, recording what it was handed. */
function fakeModels(shadow?: { pair: ShadowPair; totals: ShadowTotals }, reload: () => Promise<unknown> = () => Promise.resolve()) {
  const seen = {
    reloads: [] as Logger[],
    clusterDrift: undefined as (() => Promise<string>) | undefined,
    shadowAggregate: undefined as ShadowAggregate | undefined,
  };
  const models = {
    reload: (logger: Logger) => {
      seen.reloads.push(logger);
      return reload();
    },
    useClusterDrift: (fn: () => Promise<string>) => (seen.clusterDrift = fn),
    shadowTotals: () => shadow,
    useShadowAggregate: (fn: ShadowAggregate) => (seen.shadowAggregate = fn),
  } as unknown as ModelHost;
  return { models, seen };
}

const app = (metrics?: Metrics, trustedDocuments?: { reload(): number }) => ({ metrics, trustedDocuments }) as unknown as App;

describe('attachProcess in a cluster worker', () => {
  it("hands its registry to prom-client's aggregation and answers /metrics and drift from the primary's aggregate", async (t) => {
    const setRegistries = t.mock.method(AggregatorRegistry, 'setRegistries');
    const metrics = new Metrics({ defaultMetrics: false });
    const { models, seen } = fakeModels();
    await attachProcess(app(metrics), models, loadConfig({}), recordingLogger().logger, { isWorker: true });
    assert.equal(setRegistries.mock.callCount(), 1);
    assert.equal(setRegistries.mock.calls[0].arguments.length, 1);
    const [registries] = setRegistries.mock.calls[0].arguments as unknown as [unknown[]];
    assert.equal(registries.length, 1);
    assert.equal(registries[0], metrics.registry);

    const text = metrics.metricsText();
    assert.deepEqual(sent, [{ pm: 'pm:metrics', id: 1 }]);
    fromPrimary({ pm: 'pm:metrics', id: 1, result: 'pm_inference_rows_total 12\n' });
    assert.deepEqual(await text, { contentType: metrics.registry.contentType, body: 'pm_inference_rows_total 12\n' });

    assert.ok(seen.clusterDrift, 'modelInfo.drift reads the cluster');
    const drift = seen.clusterDrift();
    await settle();
    assert.deepEqual(sent.at(-1), { pm: 'pm:metrics', id: 2 });
    fromPrimary({ pm: 'pm:metrics', id: 2, result: 'pm_input_window_rows{field="torque"} 3\n' });
    assert.equal(await drift, 'pm_input_window_rows{field="torque"} 3\n');
  });

  it('gives the primary 6 s to aggregate, then /metrics fails', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const metrics = new Metrics({ defaultMetrics: false });
    await attachProcess(app(metrics), fakeModels().models, loadConfig({}), recordingLogger().logger, { isWorker: true });
    let outcome: unknown;
    metrics.metricsText().then(
      () => (outcome = 'answered'),
      (err: Error) => (outcome = err.message),
    );
    t.mock.timers.tick(5_999);
    await settle();
    assert.equal(outcome, undefined);
    t.mock.timers.tick(1);
    await settle();
    await settle();
    assert.equal(outcome, 'the cluster primary did not answer within 6000 ms');
  });

  it('without metrics, registers nothing with prom-client and leaves drift local', async (t) => {
    const setRegistries = t.mock.method(AggregatorRegistry, 'setRegistries');
    const { models, seen } = fakeModels();
    await attachProcess(app(), models, loadConfig({}), recordingLogger().logger, { isWorker: true });
    assert.equal(setRegistries.mock.callCount(), 0);
    assert.equal(seen.clusterDrift, undefined);
  });

  it('tells the primary when it is ready, on the readiness channel', async () => {
    const serving = await attachProcess(app(), fakeModels().models, loadConfig({}), recordingLogger().logger, { isWorker: true });
    assert.deepEqual(sent, []);
    serving.ready();
    assert.deepEqual(sent, [{ pm: 'pm:ready', id: 0 }]);
  });

  it("answers the primary's shadow collection with its own pair and totals (null without a shadow)", async () => {
    const mine = { pair: PAIR, totals: TOTALS(4) };
    let shadow: typeof mine | undefined = mine;
    const { models } = fakeModels();
    (models as unknown as { shadowTotals: () => unknown }).shadowTotals = () => shadow;
    await attachProcess(app(), models, loadConfig({}), recordingLogger().logger, { isWorker: true });
    fromPrimary({ pm: 'pm:shadow:collect', id: 7 });
    fromPrimary({ pm: 'pm:shadow', id: 8 });
    fromPrimary(undefined);
    shadow = undefined;
    fromPrimary({ pm: 'pm:shadow:collect', id: 9 });
    assert.deepEqual(sent, [
      { pm: 'pm:shadow:collect', id: 7, result: mine },
      { pm: 'pm:shadow:collect', id: 9, result: null },
    ]);
  });

  it("sums shadow statistics through the primary, and falls back to this worker's own when it cannot", async (t) => {
    const { models, seen } = fakeModels();
    await attachProcess(app(), models, loadConfig({}), recordingLogger().logger, { isWorker: true });
    const aggregate = seen.shadowAggregate!;
    const local = TOTALS(3);

    const summed = aggregate(PAIR, local);
    assert.deepEqual(sent, [{ pair: PAIR, pm: 'pm:shadow', id: 1 }]);
    fromPrimary({ pm: 'pm:shadow', id: 1, result: TOTALS(30) });
    assert.deepEqual(await summed, TOTALS(30));

    const none = aggregate(PAIR, local);
    fromPrimary({ pm: 'pm:shadow', id: 2, result: null });
    assert.equal(await none, local);

    const failed = aggregate(PAIR, local);
    fromPrimary({ pm: 'pm:shadow', id: 3, error: 'collection failed' });
    assert.equal(await failed, local);

    t.mock.timers.enable({ apis: ['setTimeout'] });
    let late: ShadowTotals | undefined;
    void aggregate(PAIR, local).then((v) => (late = v));
    t.mock.timers.tick(2_999);
    await settle();
    assert.equal(late, undefined, 'the primary has 3 s (its own collection waits 2 s)');
    t.mock.timers.tick(1);
    await settle();
    await settle();
    assert.equal(late, local);
  });

  it('opens no metrics listener of its own even with METRICS_PORT (the primary serves it)', async () => {
    let opened = 0;
    await attachProcess(
      app(new Metrics({ defaultMetrics: false })),
      fakeModels().models,
      loadConfig({ METRICS_PORT: '9464' }),
      recordingLogger().logger,
      {
        isWorker: true,
        serveMetrics: async () => {
          opened++;
          return { server: undefined as never, port: 1 };
        },
      },
    );
    assert.equal(opened, 0);
  });
});

describe('attachProcess in a single process', () => {
  it("serves the process's own metrics on METRICS_PORT and logs a failing scrape", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.rateLimitRefused('operations');
    const { logger, lines } = recordingLogger();
    const calls: Array<{
      port: number;
      host: string;
      text: () => Promise<{ contentType: string; body: string }>;
      onError: (e: unknown) => void;
    }> = [];
    const { models, seen } = fakeModels({ pair: PAIR, totals: TOTALS(1) });
    const serving = await attachProcess(app(metrics), models, loadConfig({ METRICS_PORT: '9464', HOST: '127.0.0.7' }), logger, {
      isWorker: false,
      serveMetrics: async (port, host, text, onError) => {
        calls.push({ port, host, text, onError });
        return { server: undefined as never, port: 19464 };
      },
    });
    assert.deepEqual(
      calls.map((c) => [c.port, c.host]),
      [[9464, '127.0.0.7']],
    );
    assert.deepEqual(await calls[0].text(), { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() });
    assert.match((await calls[0].text()).body, /pm_rate_limit_refusals_total\{budget="operations"\} 1/);
    assert.deepEqual(lines.at(-1), { level: 'info', fields: { port: 19464 }, msg: 'metrics listening' });
    const err = new Error('scrape failed');
    calls[0].onError(err);
    assert.deepEqual(lines.at(-1), { level: 'warn', fields: { err }, msg: 'metrics failed' });
    // Nothing cluster-wide: no IPC, no aggregation, no collection answered.
    serving.ready();
    fromPrimary({ pm: 'pm:shadow:collect', id: 1 });
    assert.deepEqual(sent, []);
    assert.equal(seen.shadowAggregate, undefined);
    assert.equal(seen.clusterDrift, undefined);
  });

  for (const [name, withMetrics, env] of [
    ['without METRICS_PORT', true, {}],
    ['without metrics', false, { METRICS_PORT: '9464' }],
  ] as const) {
    it(`opens no metrics listener ${name}`, async () => {
      let opened = 0;
      await attachProcess(
        app(withMetrics ? new Metrics({ defaultMetrics: false }) : undefined),
        fakeModels().models,
        loadConfig(env),
        recordingLogger().logger,
        {
          isWorker: false,
          serveMetrics: async () => {
            opened++;
            return { server: undefined as never, port: 1 };
          },
        },
      );
      assert.equal(opened, 0);
    });
  }
});

describe('attachProcess: SIGHUP', () => {
  for (const isWorker of [true, false]) {
    it(`reloads the model and the trusted documents (${isWorker ? 'worker' : 'single process'})`, async () => {
      const { logger, lines } = recordingLogger();
      const { models, seen } = fakeModels();
      let reloads = 0;
      await attachProcess(app(undefined, { reload: () => (++reloads, 12) }), models, loadConfig({}), logger, { isWorker });
      process.emit('SIGHUP');
      assert.deepEqual(seen.reloads, [logger]);
      assert.equal(reloads, 1);
      assert.deepEqual(
        lines.map((l) => [l.level, l.msg, l.fields]),
        [
          ['info', 'SIGHUP: reloading the model', {}],
          ['info', 'trusted documents reloaded', { documents: 12 }],
        ],
      );
    });
  }

  it('keeps the previous trusted documents when their reload fails, and survives a refused model reload', async () => {
    const { logger, lines } = recordingLogger();
    const { models, seen } = fakeModels(undefined, () => Promise.reject(new Error('model refused')));
    const trusted = {
      reload: () => {
        throw new Error('manifest unreadable');
      },
    };
    await attachProcess(app(undefined, trusted), models, loadConfig({}), logger, { isWorker: true });
    process.emit('SIGHUP');
    await settle();
    assert.equal(seen.reloads.length, 1);
    assert.deepEqual(lines.at(-1), {
      level: 'error',
      fields: { err: { message: 'manifest unreadable' } },
      msg: 'trusted documents not reloaded; the previous manifests stay in use',
    });
  });

  it('reloads only the model when no trusted documents are configured', async () => {
    const { logger, lines } = recordingLogger();
    const { models, seen } = fakeModels();
    await attachProcess(app(), models, loadConfig({}), logger, { isWorker: false });
    process.emit('SIGHUP');
    assert.equal(seen.reloads.length, 1);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['SIGHUP: reloading the model'],
    );
  });
});

describe('ClusterRateLimitStore: a worker asking the primary', () => {
  const LIMITS = { maxOps: 2, maxRows: 50, windowMs: 60_000 };

  it("sends reserve and peek on its family's channel and resolves with the primary's answer", async () => {
    const store = new ClusterRateLimitStore('requests');
    assert.equal(store.kind, 'cluster');
    const decision = store.reserve('client-a', { ops: 1, rows: 3 }, LIMITS);
    const usage = store.peek('client-b', LIMITS);
    assert.deepEqual(sent, [
      {
        op: 'reserve',
        family: 'requests',
        clientId: 'client-a',
        cost: { ops: 1, rows: 3 },
        limits: LIMITS,
        pm: 'pm:rate-limit:requests',
        id: 1,
      },
      { op: 'peek', family: 'requests', clientId: 'client-b', limits: LIMITS, pm: 'pm:rate-limit:requests', id: 2 },
    ]);
    fromPrimary({ pm: 'pm:rate-limit:requests', id: 2, result: { opsUsed: 5, rowsUsed: 6, resetAt: 7 } });
    fromPrimary({ pm: 'pm:rate-limit:requests', id: 1, result: { allowed: true, opsUsed: 1, rowsUsed: 3, resetAt: 9 } });
    assert.deepEqual(await decision, { allowed: true, opsUsed: 1, rowsUsed: 3, resetAt: 9 });
    assert.deepEqual(await usage, { opsUsed: 5, rowsUsed: 6, resetAt: 7 });
    assert.equal(await store.close(), undefined);
  });

  it('fails a request the primary does not answer within 2 s by default, or the timeout given', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const outcomes: string[] = [];
    const note = (p: Promise<unknown>, name: string) =>
      p.then(
        () => outcomes.push(`${name} answered`),
        (err: Error) => outcomes.push(`${name}: ${err.message}`),
      );
    void note(new ClusterRateLimitStore('budgets').reserve('c', { ops: 1, rows: 1 }, LIMITS), 'default');
    void note(new ClusterRateLimitStore('budgets', 500).peek('c', LIMITS), 'short');
    t.mock.timers.tick(499);
    await settle();
    assert.deepEqual(outcomes, []);
    t.mock.timers.tick(1);
    await settle();
    await settle();
    assert.deepEqual(outcomes, ['short: the cluster primary did not answer within 500 ms']);
    t.mock.timers.tick(1_499);
    await settle();
    assert.equal(outcomes.length, 1);
    t.mock.timers.tick(1);
    await settle();
    await settle();
    assert.deepEqual(outcomes.at(-1), 'default: the cluster primary did not answer within 2000 ms');
  });

  it('is answered by the primary from the budget of its family, as one MemoryRateLimitStore would', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_800_000_000_000 });
    const cluster = new FakeCluster();
    runPrimary(loadConfig({ WORKERS: '1' }), recordingLogger().logger, {
      cluster: cluster as unknown as PrimaryCluster,
      process: new FakeProcess([]),
      aggregator: { contentType: 'text/plain', clusterMetrics: () => Promise.resolve('') },
    });
    const [worker] = cluster.forked;
    // This process is the worker: what it sends reaches the primary, what the primary sends comes back.
    forward = (message) => cluster.message(worker, message);
    worker.deliver = fromPrimary;
    const budgets = new ClusterRateLimitStore('budgets');
    const requests = new ClusterRateLimitStore('requests');
    const reference = { budgets: new MemoryRateLimitStore(10), requests: new MemoryRateLimitStore(10) };
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(
        await budgets.reserve('client-a', { ops: 1, rows: 10 }, LIMITS),
        reference.budgets.reserve('client-a', { ops: 1, rows: 10 }, LIMITS),
      );
    }
    assert.deepEqual(
      await requests.reserve('client-a', { ops: 1, rows: 0 }, LIMITS),
      reference.requests.reserve('client-a', { ops: 1, rows: 0 }, LIMITS),
    );
    assert.deepEqual(await budgets.peek('client-a', LIMITS), { opsUsed: 2, rowsUsed: 20, resetAt: 1_800_000_060_000 });
    assert.deepEqual(await requests.peek('client-a', LIMITS), { opsUsed: 1, rowsUsed: 0, resetAt: 1_800_000_060_000 });
    assert.deepEqual(await budgets.peek('client-b', LIMITS), { opsUsed: 0, rowsUsed: 0, resetAt: undefined });
  });
});
