// The primary of WORKERS > 1 (src/cluster.ts runPrimary), in-process: node:cluster is a fake whose workers are
// EventEmitters recording what the primary sends them and which signals it kills them with, the process a fake
// that receives SIGTERM/SIGINT/SIGHUP and records the exit code, prom-client's aggregation a stub returning a
// real two-worker aggregate. What an operator would see go wrong: a dead worker not replaced, a cluster that
// keeps forking a worker that cannot start, readiness counted for workers that are gone, SIGTERM not passed
// on (workers killed mid-request, or the primary exiting before they drained), a budget answered for the
// wrong worker, key or family, shadow totals of another primary/shadow pair summed in.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { RESTART_BACKOFF, runPrimary, type PrimaryCluster, type PrimaryOptions } from '../src/cluster';
import { loadConfig } from '../src/config';
import { DriftMonitor, type DriftReference } from '../src/inference/drift';
import type { ShadowTotals } from '../src/inference/shadow-scorer';
import { withClusterDrift } from '../src/observability/drift-cluster';
import { Metrics } from '../src/observability/metrics';
import { MemoryRateLimitStore } from '../src/protection/store';
import { FakeCluster, FakeProcess, type FakeWorker } from './helpers/fake-cluster';
import { NORMAL_READING } from './helpers/readings';

interface Line {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function start(env: Record<string, string> = {}, options: Partial<PrimaryOptions> = {}) {
  const events: string[] = [];
  const lines: Line[] = [];
  const at = (level: string) => (a: unknown, b?: string) => {
    const line = typeof a === 'string' ? { level, fields: {}, msg: a } : { level, fields: a as Record<string, unknown>, msg: b! };
    lines.push(line);
    events.push(`${level} ${line.msg}`);
  };
  const logger = { info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), flush: () => events.push('flush') };
  const cluster = new FakeCluster();
  const proc = new FakeProcess(events);
  const config = loadConfig({ WORKERS: '2', ...env });
  runPrimary(config, logger as unknown as Logger, {
    cluster: cluster as unknown as PrimaryCluster,
    process: proc,
    aggregator: { contentType: 'text/plain; fake', clusterMetrics: () => Promise.resolve('') },
    serveMetrics: () => Promise.reject(new Error('no metrics port in this test')),
    ...options,
  });
  const logged = (msg: string) => lines.filter((l) => l.msg === msg);
  /** Every forked worker says it is ready, as attachProcess's ready() does. */
  const allReady = () => cluster.forked.forEach((w) => cluster.message(w, { pm: 'pm:ready', id: 0 }));
  return { cluster, proc, lines, events, logged, allReady, config };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('runPrimary: forking, readiness, replacement', () => {
  it('forks WORKERS workers and counts the ready ones among the live workers only', () => {
    const { cluster, logged } = start({ WORKERS: '3' });
    assert.equal(cluster.forked.length, 3);
    assert.deepEqual(logged('starting workers')[0].fields, { workers: 3 });
    const [a, b, c] = cluster.forked;
    cluster.message(b, { pm: 'pm:ready', id: 0 });
    cluster.message(a, { pm: 'pm:ready', id: 0 });
    // A duplicate readiness message is one worker, not two.
    cluster.message(a, { pm: 'pm:ready', id: 0 });
    assert.deepEqual(
      logged('worker ready').map((l) => l.fields),
      [
        { pid: b.process.pid, ready: 1, workers: 3 },
        { pid: a.process.pid, ready: 2, workers: 3 },
        { pid: a.process.pid, ready: 2, workers: 3 },
      ],
    );
    // A ready worker dies: its replacement's readiness counts the two live ones, not the dead one.
    cluster.exit(a, 1);
    const replacement = cluster.forked[3];
    cluster.message(replacement, { pm: 'pm:ready', id: 0 });
    assert.deepEqual(logged('worker ready').at(-1)!.fields, { pid: replacement.process.pid, ready: 2, workers: 3 });
    cluster.message(c, { pm: 'pm:ready', id: 0 });
    assert.deepEqual(logged('worker ready').at(-1)!.fields, { pid: c.process.pid, ready: 3, workers: 3 });
  });

  it('replaces a ready worker that dies with exactly one new worker, and keeps running', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
    const { cluster, proc, allReady, logged } = start();
    allReady();
    const [a, b] = cluster.forked;
    cluster.exit(a, null, 'SIGKILL');
    assert.equal(cluster.forked.length, 3);
    assert.deepEqual(logged('worker died; starting a replacement')[0].fields, { pid: a.process.pid, code: null, signal: 'SIGKILL' });
    assert.equal(logged('worker died; starting a replacement')[0].level, 'error');
    // The replacement gets ready, then dies too, a minute later: it is replaced again (it had served) at once.
    const replacement = cluster.forked[2];
    cluster.message(replacement, { pm: 'pm:ready', id: 0 });
    t.mock.timers.tick(RESTART_BACKOFF.resetMs);
    cluster.exit(replacement, 1);
    assert.equal(cluster.forked.length, 4);
    await settle();
    assert.deepEqual(proc.exits, []);
    assert.deepEqual(b.signals, [], 'the healthy worker is left alone');
  });

  it('waits before replacing a worker that dies soon after the last death: 1 s, doubling to 30 s, reset after a quiet minute', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
    const { cluster, logged } = start({ WORKERS: '1' });
    const die = () => {
      const live = cluster.forked.at(-1)!;
      cluster.message(live, { pm: 'pm:ready', id: 0 });
      cluster.exit(live, 1);
      return live;
    };
    /** Dies; no replacement until exactly `wait` ms later. */
    const diesAndWaits = (wait: number) => {
      const before = cluster.forked.length;
      const dead = die();
      if (wait === 0) return assert.equal(cluster.forked.length, before + 1, 'replaced at once');
      assert.deepEqual(logged('worker died again soon; its replacement waits').at(-1)!.fields, {
        pid: dead.process.pid,
        code: 1,
        signal: null,
        restartInMs: wait,
      });
      t.mock.timers.tick(wait - 1);
      assert.equal(cluster.forked.length, before, `no replacement before ${wait} ms`);
      t.mock.timers.tick(1);
      assert.equal(cluster.forked.length, before + 1, `replaced after ${wait} ms`);
    };
    diesAndWaits(0);
    for (const wait of [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]) diesAndWaits(wait);
    // Deaths just under a minute apart are still in a row; a minute's quiet starts over.
    t.mock.timers.tick(RESTART_BACKOFF.resetMs - 30_000 - 1);
    diesAndWaits(30_000);
    t.mock.timers.tick(RESTART_BACKOFF.resetMs - 30_000);
    diesAndWaits(0);
    diesAndWaits(1_000);
  });

  it('replaces two workers dying together, each after its own wait, and none once the cluster stops', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
    const { cluster, proc, allReady } = start({ WORKERS: '3' });
    allReady();
    const [a, b, c] = cluster.forked;
    cluster.exit(a, 1); // at once
    cluster.exit(b, 1); // 1 s
    cluster.exit(c, 1); // 2 s
    assert.equal(cluster.forked.length, 4);
    t.mock.timers.tick(1_000);
    assert.equal(cluster.forked.length, 5);
    // SIGTERM while the third replacement waits: the cluster drains and no worker is forked after it.
    proc.emit('SIGTERM');
    t.mock.timers.tick(1_000);
    assert.equal(cluster.forked.length, 5);
    for (const w of cluster.forked.slice(3)) cluster.exit(w, 0);
    await settle();
    assert.deepEqual(proc.exits, [0]);
  });

  for (const [code, signal, exitCode] of [
    [1, null, 1],
    [null, 'SIGSEGV', 1],
    [2, null, 2],
  ] as const) {
    it(`stops the cluster, exit ${exitCode}, when a worker dies (code ${code}, signal ${signal}) before it was ever ready`, async () => {
      const { cluster, proc, logged, events } = start();
      const [a, b] = cluster.forked;
      cluster.message(a, { pm: 'pm:ready', id: 0 });
      cluster.exit(b, code, signal);
      // No replacement: a worker that cannot start would fail again, in a loop.
      assert.equal(cluster.forked.length, 2);
      assert.deepEqual(logged('a worker failed to start; stopping the cluster')[0], {
        level: 'fatal',
        fields: { pid: b.process.pid, code, signal },
        msg: 'a worker failed to start; stopping the cluster',
      });
      assert.deepEqual(a.signals, ['SIGTERM']);
      await settle();
      assert.deepEqual(proc.exits, [], 'the primary waits for the live worker to drain');
      cluster.exit(a, 0);
      await settle();
      assert.deepEqual(proc.exits, [exitCode]);
      assert.deepEqual(events.slice(-3), ['info stopped', 'flush', `exit ${exitCode}`]);
    });
  }

  it('stops when a replacement dies before it got ready (the fault is not the first worker alone)', async () => {
    const { cluster, proc, allReady } = start();
    allReady();
    cluster.exit(cluster.forked[0], 1);
    const replacement = cluster.forked[2];
    cluster.exit(replacement, 1);
    assert.equal(cluster.forked.length, 3);
    assert.deepEqual(cluster.forked[1].signals, ['SIGTERM']);
    cluster.exit(cluster.forked[1], 0);
    await settle();
    assert.deepEqual(proc.exits, [1]);
  });
});

describe('runPrimary: signals', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: every live worker is sent SIGTERM, the primary exits 0 only once they all exited`, async () => {
      const { cluster, proc, allReady, events } = start({ WORKERS: '3' });
      allReady();
      const [a, b, c] = cluster.forked;
      // A worker already dead but still listed (it exited abruptly) is not waited for.
      c.dead = true;
      proc.emit(signal);
      assert.deepEqual(
        cluster.forked.map((w) => w.signals),
        [['SIGTERM'], ['SIGTERM'], []],
      );
      cluster.exit(a, 0);
      await settle();
      assert.deepEqual(proc.exits, []);
      // Workers exiting while the cluster stops are not replaced.
      assert.equal(cluster.forked.length, 3);
      cluster.exit(b, 0);
      await settle();
      assert.deepEqual(proc.exits, [0]);
      assert.equal(cluster.forked.length, 3);
      // The logs are flushed before the process exits.
      assert.deepEqual(events.slice(-4), ['info shutting down: draining every worker', 'info stopped', 'flush', 'exit 0']);
    });
  }

  it('a second SIGTERM or a SIGINT during the drain neither signals the workers again nor exits twice', async () => {
    const { cluster, proc, allReady } = start();
    allReady();
    proc.emit('SIGTERM');
    proc.emit('SIGINT');
    proc.emit('SIGTERM');
    assert.deepEqual(
      cluster.forked.map((w) => w.signals),
      [['SIGTERM'], ['SIGTERM']],
    );
    cluster.forked.forEach((w) => cluster.exit(w, 0));
    await settle();
    assert.deepEqual(proc.exits, [0]);
  });

  it('a worker dying during the drain is not taken for a start-up failure (the exit code stays 0)', async () => {
    const { cluster, proc } = start();
    const [a, b] = cluster.forked;
    cluster.message(a, { pm: 'pm:ready', id: 0 });
    proc.emit('SIGTERM');
    // b never got ready: outside a drain that would stop the cluster with exit 1.
    cluster.exit(b, 1);
    cluster.exit(a, 0);
    await settle();
    assert.deepEqual(proc.exits, [0]);
  });

  it('SIGHUP reloads the model in the ready workers only, every time it comes', () => {
    const { cluster, proc, logged } = start({ WORKERS: '3' });
    const [a, b, c] = cluster.forked;
    cluster.message(a, { pm: 'pm:ready', id: 0 });
    cluster.message(c, { pm: 'pm:ready', id: 0 });
    proc.emit('SIGHUP');
    proc.emit('SIGHUP');
    // b is still starting: it has no SIGHUP handler yet, and the default action would kill it.
    assert.deepEqual(
      [a, b, c].map((w) => w.signals),
      [['SIGHUP', 'SIGHUP'], [], ['SIGHUP', 'SIGHUP']],
    );
    assert.equal(logged('SIGHUP: reloading the model in every worker').length, 2);
    // A ready worker that died is no longer signalled; its replacement is once it is ready.
    cluster.exit(a, 1);
    const replacement = cluster.forked[3];
    cluster.message(replacement, { pm: 'pm:ready', id: 0 });
    cluster.message(b, { pm: 'pm:ready', id: 0 });
    proc.emit('SIGHUP');
    assert.deepEqual(
      [a, b, c, replacement].map((w) => w.signals.length),
      [2, 1, 3, 1],
    );
  });
});

describe('runPrimary: the rate-limit budgets it holds for the workers', () => {
  const LIMITS = { maxOps: 2, maxRows: 100, windowMs: 60_000 };
  const reserve = (id: number, clientId: string, rows = 1, family = 'budgets') => ({
    pm: `pm:rate-limit:${family}`,
    id,
    op: 'reserve',
    family,
    clientId,
    cost: { ops: 1, rows },
    limits: LIMITS,
  });
  const peek = (id: number, clientId: string, family = 'budgets') => ({
    pm: `pm:rate-limit:${family}`,
    id,
    op: 'peek',
    family,
    clientId,
    limits: LIMITS,
  });
  const answer = (w: FakeWorker) => w.sent.at(-1) as { pm: string; id: number; result?: Record<string, unknown>; error?: string };

  it('answers each reservation to the worker that asked, with its channel and id, from one budget per client', (t) => {
    // A frozen clock: the primary's decisions can be compared with one MemoryRateLimitStore's, resetAt included.
    t.mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 });
    const { cluster } = start();
    const reference = new MemoryRateLimitStore(1_000);
    const [a, b] = cluster.forked;
    // Both workers number their requests from 1: the answer goes back to the asker, not by id alone.
    cluster.message(a, reserve(1, 'client-x', 10));
    cluster.message(b, reserve(1, 'client-x', 20));
    const first = reference.reserve('client-x', { ops: 1, rows: 10 }, LIMITS);
    const second = reference.reserve('client-x', { ops: 1, rows: 20 }, LIMITS);
    assert.deepEqual(a.sent, [{ pm: 'pm:rate-limit:budgets', id: 1, result: first }]);
    assert.deepEqual(b.sent, [{ pm: 'pm:rate-limit:budgets', id: 1, result: second }]);
    assert.equal(second.rowsUsed, 30, 'one budget across workers');
    // The third call of client-x is refused whichever worker it comes through; another client is not.
    cluster.message(a, reserve(7, 'client-x'));
    assert.deepEqual(answer(a), { pm: 'pm:rate-limit:budgets', id: 7, result: reference.reserve('client-x', { ops: 1, rows: 1 }, LIMITS) });
    assert.equal(answer(a).result!.exceeded, 'operations');
    cluster.message(b, reserve(8, 'client-y', 5));
    assert.deepEqual(answer(b), { pm: 'pm:rate-limit:budgets', id: 8, result: reference.reserve('client-y', { ops: 1, rows: 5 }, LIMITS) });
    assert.equal(answer(b).result!.allowed, true);
    // peek reads without spending, per client.
    cluster.message(b, peek(9, 'client-x'));
    cluster.message(b, peek(10, 'client-x'));
    assert.deepEqual(b.sent.slice(-2), [
      { pm: 'pm:rate-limit:budgets', id: 9, result: reference.peek('client-x') },
      { pm: 'pm:rate-limit:budgets', id: 10, result: reference.peek('client-x') },
    ]);
    assert.equal(answer(b).result!.opsUsed, 2);
    cluster.message(a, peek(11, 'nobody'));
    assert.deepEqual(answer(a).result, { opsUsed: 0, rowsUsed: 0, resetAt: undefined });
    // The window passes on the primary's clock: client-x may spend again.
    t.mock.timers.tick(LIMITS.windowMs);
    cluster.message(a, reserve(12, 'client-x'));
    assert.deepEqual(answer(a).result, { allowed: true, opsUsed: 1, rowsUsed: 1, resetAt: 1_700_000_000_000 + 2 * LIMITS.windowMs });
  });

  it('keeps the request budget apart from the operation budgets', () => {
    const { cluster } = start();
    const [a] = cluster.forked;
    cluster.message(a, reserve(1, 'client-x', 1, 'requests'));
    cluster.message(a, reserve(2, 'client-x', 1, 'requests'));
    assert.deepEqual(answer(a).pm, 'pm:rate-limit:requests');
    assert.equal(answer(a).result!.opsUsed, 2);
    cluster.message(a, reserve(3, 'client-x'));
    assert.deepEqual(
      { pm: answer(a).pm, allowed: answer(a).result!.allowed, opsUsed: answer(a).result!.opsUsed },
      { pm: 'pm:rate-limit:budgets', allowed: true, opsUsed: 1 },
    );
    cluster.message(a, peek(4, 'client-x', 'requests'));
    assert.equal(answer(a).result!.opsUsed, 2);
  });

  it('bounds both stores by RATE_LIMIT_MEMORY_MAX_KEYS, as one MemoryRateLimitStore would', () => {
    const { cluster } = start({ RATE_LIMIT_MEMORY_MAX_KEYS: '2' });
    const [a] = cluster.forked;
    const reference = new MemoryRateLimitStore(2);
    for (const family of ['budgets', 'requests']) {
      for (const [i, client] of ['c1', 'c2', 'c3'].entries()) {
        cluster.message(a, reserve(i, client, 1, family));
        reference.reserve(client, { ops: 1, rows: 1 }, LIMITS);
      }
      cluster.message(a, peek(9, 'c1', family));
      assert.deepEqual(answer(a).result, reference.peek('c1'), `${family}: the oldest client was evicted`);
      assert.equal(answer(a).result!.opsUsed, 0);
      cluster.message(a, peek(10, 'c3', family));
      assert.equal(answer(a).result!.opsUsed, 1);
    }
  });

  it("answers a failing reservation with the store's error, and writes nothing to a worker that is gone", () => {
    const { cluster } = start();
    const [a, b] = cluster.forked;
    cluster.message(a, { ...reserve(5, 'client-x'), cost: undefined });
    assert.equal(answer(a).id, 5);
    assert.equal(answer(a).pm, 'pm:rate-limit:budgets');
    assert.equal(answer(a).result, undefined);
    assert.match(answer(a).error!, /ops/);
    b.connected = false;
    cluster.message(b, reserve(1, 'client-x'));
    cluster.message(b, { ...reserve(2, 'client-x'), cost: undefined });
    assert.deepEqual(b.sent, []);
    // The reservation was still made: the primary's budget does not depend on the asker being there.
    cluster.message(a, peek(6, 'client-x'));
    assert.equal(answer(a).result!.opsUsed, 1);
  });

  it('ignores messages that are not addressed to it', () => {
    const { cluster } = start();
    const [a] = cluster.forked;
    cluster.message(a, { pm: 'pm:unknown', id: 1 });
    cluster.emit('message', a, undefined);
    cluster.message(a, { type: 'prom-client:getMetricsRes', requestId: 1 });
    assert.deepEqual(a.sent, []);
  });
});

const REFERENCE: DriftReference = JSON.parse(readFileSync(path.join(process.env.MODEL_DIR ?? 'models', 'model.json'), 'utf8')).drift;

/** Two workers' registries summed by prom-client, as the primary's aggregator returns them. */
async function twoWorkerMetrics(): Promise<string> {
  const registries = [0, 8].map((shift) => {
    const metrics = new Metrics({ defaultMetrics: false });
    const monitor = new DriftMonitor({
      enabled: true,
      windowRows: 1_000,
      maxAgeMs: 86_400_000,
      minRows: 10,
      psiModerate: 0.1,
      psiSignificant: 0.25,
    });
    monitor.useReference(REFERENCE);
    metrics.watchDrift(monitor);
    monitor.record(
      Array.from({ length: 50 }, (_, i) => ({
        reading: { ...NORMAL_READING, airTemperature: NORMAL_READING.airTemperature + shift + (i % 5) / 10 },
        predictedFailureType: 'NO_FAILURE' as const,
        isAnomaly: false,
      })),
    );
    return metrics.registry.getMetricsAsJSON();
  });
  return AggregatorRegistry.aggregate(await Promise.all(registries)).metrics();
}

describe('runPrimary: the cluster metrics', () => {
  it("answers a worker's request with every worker's series, drift's PSI recomputed from the summed counts", async () => {
    const raw = await twoWorkerMetrics();
    const merged = withClusterDrift(raw);
    assert.notEqual(merged, raw, 'the merge adds the cluster PSI');
    const { cluster } = start({}, { aggregator: { contentType: 'text/plain', clusterMetrics: () => Promise.resolve(raw) } });
    const [a, b] = cluster.forked;
    cluster.message(b, { pm: 'pm:metrics', id: 3 });
    cluster.message(a, { pm: 'pm:metrics', id: 3 });
    await settle();
    assert.deepEqual(b.sent, [{ pm: 'pm:metrics', id: 3, result: merged }]);
    assert.deepEqual(a.sent, [{ pm: 'pm:metrics', id: 3, result: merged }]);
  });

  it('answers an aggregation failure as an error, and nothing to a worker that is gone', async () => {
    let fail = true;
    const { cluster } = start(
      {},
      {
        aggregator: {
          contentType: 'text/plain',
          clusterMetrics: () => (fail ? Promise.reject(new Error('Operation timed out.')) : Promise.resolve('x 1\n')),
        },
      },
    );
    const [a, b] = cluster.forked;
    cluster.message(a, { pm: 'pm:metrics', id: 4 });
    await settle();
    assert.deepEqual(a.sent, [{ pm: 'pm:metrics', id: 4, error: 'Operation timed out.' }]);
    b.connected = false;
    cluster.message(b, { pm: 'pm:metrics', id: 1 });
    fail = false;
    cluster.message(b, { pm: 'pm:metrics', id: 2 });
    await settle();
    assert.deepEqual(b.sent, []);
  });

  it('serves the aggregate on METRICS_PORT, with the content type of the aggregator; a failing scrape is logged', async () => {
    const raw = await twoWorkerMetrics();
    const calls: Array<{
      port: number;
      host: string;
      text: () => Promise<{ contentType: string; body: string }>;
      onError: (e: unknown) => void;
    }> = [];
    const { logged, proc, cluster } = start(
      { METRICS_PORT: '9464', HOST: '127.0.0.9' },
      {
        aggregator: { contentType: 'text/plain; version=0.0.4', clusterMetrics: () => Promise.resolve(raw) },
        serveMetrics: async (port, host, text, onError) => {
          calls.push({ port, host, text, onError });
          return { server: undefined as never, port: 19464 };
        },
      },
    );
    assert.deepEqual(
      calls.map((c) => [c.port, c.host]),
      [[9464, '127.0.0.9']],
    );
    assert.deepEqual(await calls[0].text(), { contentType: 'text/plain; version=0.0.4', body: withClusterDrift(raw) });
    await settle();
    assert.deepEqual(logged('metrics listening')[0].fields, { port: 19464 });
    const err = new Error('scrape failed');
    calls[0].onError(err);
    assert.deepEqual(logged('metrics aggregation failed')[0], { level: 'warn', fields: { err }, msg: 'metrics aggregation failed' });
    assert.deepEqual(proc.exits, []);
    assert.deepEqual(
      cluster.forked.map((w) => w.signals),
      [[], []],
    );
  });

  it('stops the cluster (exit 1) when METRICS_PORT cannot be opened', async () => {
    const err = new Error('EADDRINUSE');
    const { logged, proc, cluster } = start({ METRICS_PORT: '9464' }, { serveMetrics: () => Promise.reject(err) });
    await settle();
    assert.deepEqual(logged('metrics port cannot be opened')[0], { level: 'fatal', fields: { err }, msg: 'metrics port cannot be opened' });
    assert.deepEqual(
      cluster.forked.map((w) => w.signals),
      [['SIGTERM'], ['SIGTERM']],
    );
    cluster.forked.forEach((w) => cluster.exit(w, 0));
    await settle();
    assert.deepEqual(proc.exits, [1]);
  });

  for (const env of [{}, { METRICS_PORT: '9464', METRICS_ENABLED: 'false' }] as Array<Record<string, string>>) {
    it(`opens no metrics listener with ${JSON.stringify(env)}`, async () => {
      let opened = 0;
      const { logged } = start(env, {
        serveMetrics: async () => {
          opened++;
          return { server: undefined as never, port: 1 };
        },
      });
      await settle();
      assert.equal(opened, 0);
      assert.deepEqual(logged('metrics listening'), []);
    });
  }
});

describe('runPrimary: shadow totals summed over the workers', () => {
  const PAIR = { primary: '1.0.0', shadow: '2.0.0' };
  const totals = (rows: number, disagreement: string): ShadowTotals => ({
    rowsCompared: rows,
    sameFailureType: rows - 1,
    sameAnomaly: rows,
    absProbabilityDeltaSum: rows / 4,
    disagreements: { [disagreement]: 1 },
  });
  const collectIds = (w: FakeWorker) => w.sent.filter((m) => m.pm === 'pm:shadow:collect').map((m) => m.id as number);
  const report = (cluster: FakeCluster, w: FakeWorker, id: number, result: unknown) =>
    cluster.message(w, { pm: 'pm:shadow:collect', id, result });

  it('asks every ready, connected worker and answers the asker with the totals of its own pair only', async () => {
    const { cluster } = start({ WORKERS: '5' });
    const [a, b, c, d, e] = cluster.forked;
    for (const w of [a, b, c, d]) cluster.message(w, { pm: 'pm:ready', id: 0 });
    d.connected = false;
    cluster.message(a, { pm: 'pm:shadow', id: 12, pair: PAIR });
    // e is not ready and d cannot be reached: neither is asked nor waited for.
    assert.deepEqual([a, b, c, d, e].map(collectIds), [[1], [1], [1], [], []]);
    report(cluster, b, 1, { pair: PAIR, totals: totals(10, 'x') });
    // c runs another primary/shadow pair (a reload half-way through the cluster): left out of the sum.
    report(cluster, c, 1, { pair: { primary: '1.0.0', shadow: '3.0.0' }, totals: totals(1_000, 'z') });
    // A worker not asked, and a second report from b, change nothing.
    report(cluster, e, 1, { pair: PAIR, totals: totals(500, 'e') });
    report(cluster, b, 1, { pair: PAIR, totals: totals(10, 'x') });
    await settle();
    assert.equal(a.sent.length, 1, 'no answer before every asked worker reported');
    report(cluster, a, 1, { pair: PAIR, totals: totals(5, 'y') });
    await settle();
    assert.deepEqual(a.sent.at(-1), {
      pm: 'pm:shadow',
      id: 12,
      result: { rowsCompared: 15, sameFailureType: 13, sameAnomaly: 15, absProbabilityDeltaSum: 3.75, disagreements: { x: 1, y: 1 } },
    });
  });

  it('leaves out a worker with no shadow or another primary, and answers null when none matches', async () => {
    const { cluster, allReady } = start({ WORKERS: '3' });
    allReady();
    const [a, b, c] = cluster.forked;
    cluster.message(b, { pm: 'pm:shadow', id: 1, pair: PAIR });
    report(cluster, a, 1, null);
    report(cluster, b, 1, { pair: { primary: '0.9.0', shadow: '2.0.0' }, totals: totals(3, 'p') });
    report(cluster, c, 1, { pair: PAIR, totals: totals(4, 'q') });
    await settle();
    assert.deepEqual(b.sent.at(-1), { pm: 'pm:shadow', id: 1, result: totals(4, 'q') });
    cluster.message(c, { pm: 'pm:shadow', id: 2, pair: PAIR });
    report(cluster, a, 2, undefined);
    report(cluster, b, 2, null);
    report(cluster, c, 2, { pair: { primary: '1.0.0', shadow: '9' }, totals: totals(4, 'q') });
    await settle();
    assert.deepEqual(c.sent.at(-1), { pm: 'pm:shadow', id: 2, result: null });
  });

  it('keeps concurrent collections apart by id', async () => {
    const { cluster, allReady } = start();
    allReady();
    const [a, b] = cluster.forked;
    cluster.message(a, { pm: 'pm:shadow', id: 1, pair: PAIR });
    cluster.message(b, { pm: 'pm:shadow', id: 1, pair: PAIR });
    assert.deepEqual(collectIds(a), [1, 2]);
    report(cluster, a, 2, { pair: PAIR, totals: totals(1, 'a2') });
    report(cluster, b, 2, { pair: PAIR, totals: totals(2, 'b2') });
    report(cluster, a, 1, { pair: PAIR, totals: totals(10, 'a1') });
    report(cluster, b, 1, { pair: PAIR, totals: totals(20, 'b1') });
    // An answer to a collection that is over, or never was, is dropped.
    report(cluster, a, 2, { pair: PAIR, totals: totals(99, 'late') });
    report(cluster, a, 77, { pair: PAIR, totals: totals(99, 'none') });
    await settle();
    assert.deepEqual(
      b.sent.filter((m) => m.pm === 'pm:shadow').map((m) => (m.result as ShadowTotals).rowsCompared),
      [3],
    );
    assert.deepEqual(
      a.sent.filter((m) => m.pm === 'pm:shadow').map((m) => (m.result as ShadowTotals).rowsCompared),
      [30],
    );
  });

  it('answers null at once when no worker is ready, and nothing to an asker that is gone', async () => {
    const { cluster } = start();
    const [a, b] = cluster.forked;
    cluster.message(a, { pm: 'pm:shadow', id: 5, pair: PAIR });
    await settle();
    assert.deepEqual(a.sent, [{ pm: 'pm:shadow', id: 5, result: null }]);
    b.connected = false;
    cluster.message(b, { pm: 'pm:shadow', id: 6, pair: PAIR });
    await settle();
    assert.deepEqual(b.sent, []);
  });

  it('answers the asker with an error when a worker cannot be asked, rather than leaving it to time out', async () => {
    const { cluster, allReady } = start({ WORKERS: '3' });
    allReady();
    const [a, b, c] = cluster.forked;
    b.send = () => {
      throw new Error('channel closed');
    };
    cluster.message(a, { pm: 'pm:shadow', id: 4, pair: PAIR });
    await settle();
    assert.deepEqual(
      a.sent.filter((m) => m.pm === 'pm:shadow'),
      [{ pm: 'pm:shadow', id: 4, error: 'channel closed' }],
    );
    // An asker that is gone by then is sent nothing.
    c.connected = false;
    cluster.message(c, { pm: 'pm:shadow', id: 5, pair: PAIR });
    await settle();
    assert.deepEqual(
      c.sent.filter((m) => m.pm === 'pm:shadow'),
      [],
    );
  });

  it('answers after 2 s with the workers that reported, leaving out one that did not', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { cluster, allReady } = start({ WORKERS: '3' });
    allReady();
    const [a, b] = cluster.forked;
    cluster.message(a, { pm: 'pm:shadow', id: 9, pair: PAIR });
    report(cluster, a, 1, { pair: PAIR, totals: totals(7, 'a') });
    report(cluster, b, 1, { pair: PAIR, totals: totals(8, 'b') });
    t.mock.timers.tick(1_999);
    await settle();
    assert.equal(a.sent.filter((m) => m.pm === 'pm:shadow').length, 0);
    t.mock.timers.tick(1);
    await settle();
    assert.deepEqual(a.sent.at(-1), {
      pm: 'pm:shadow',
      id: 9,
      result: { rowsCompared: 15, sameFailureType: 13, sameAnomaly: 15, absProbabilityDeltaSum: 3.75, disagreements: { a: 1, b: 1 } },
    });
    // The late worker's report no longer counts anywhere.
    report(cluster, cluster.forked[2], 1, { pair: PAIR, totals: totals(100, 'c') });
    await settle();
    assert.equal(a.sent.filter((m) => m.pm === 'pm:shadow').length, 1);
  });
});
