import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePort } from '../bench/lib/net';
import { metricValue, scrape } from './helpers/metrics';
import { ServerProcess } from './helpers/process';
import { NORMAL_READING } from './helpers/server';
import { until } from './helpers/wait';

const PREDICT = 'mutation P($input: SensorReadingInput!) { predict(input: $input) { modelVersion } }';

function predict(origin: string) {
  return fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: PREDICT, variables: { input: NORMAL_READING } }),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as any }));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('WORKERS=2: one port, exact shared budgets, aggregated metrics, signals', () => {
  let server: ServerProcess | undefined;
  after(() => server?.kill());

  it('runs two workers; 200 simultaneous requests against a limit of 10 let exactly 10 through', async () => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    // Load shedding off, as in startServer: 200 requests at once on a busy machine lag the workers' loops, and
    // this test counts exact budget outcomes (shedding is tested in test/edge.test.ts).
    server = new ServerProcess({ WORKERS: '2', PORT: String(port), RATE_LIMIT_MAX: '10', MAX_EVENT_LOOP_DELAY_MS: '0' });
    await server.waitFor('worker ready', 2);
    const workerPids = server.lines.filter((l) => l.msg === 'worker ready').map((l) => l.pid);
    assert.equal(new Set(workerPids).size, 2);

    const results = await Promise.all(Array.from({ length: 200 }, () => predict(origin)));
    assert.equal(server.count('rate limit store failed; failing open'), 0, 'no IPC answer timed out');
    const ok = results.filter((r) => r.status === 200 && r.body.errors === undefined);
    const limited = results.filter((r) => r.body.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    const other = results
      .filter((r) => !ok.includes(r) && !limited.includes(r))
      .map((r) => [r.status, r.body.errors?.[0]?.extensions?.code]);
    assert.deepEqual(other, [], 'every request is answered or rate limited');
    assert.equal(ok.length, 10);
    assert.equal(limited.length, 190);

    // Whichever worker answers /metrics, it reports every worker's series.
    for (let i = 0; i < 4; i++) {
      const text = await scrape(origin);
      assert.equal(metricValue(text, 'pm_inference_rows_total'), 10);
      assert.equal(metricValue(text, 'pm_graphql_operations_total', { root_field: 'predict', outcome: 'ok' }), 10);
      assert.equal(metricValue(text, 'pm_rate_limit_refusals_total', { budget: 'operations' }), 190);
      assert.equal(metricValue(text, 'pm_model_info'), 1);
    }
    const { body } = await fetch(`${origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ rateLimit { store used remaining requestsUsed } }' }),
    }).then(async (r) => ({ body: (await r.json()) as any }));
    // The request budget too is one across workers: 200 predicts and this query.
    assert.deepEqual(body.data.rateLimit, { store: 'cluster', used: 10, remaining: 0, requestsUsed: 201 });
  });

  it('replaces a worker that dies', async () => {
    assert.ok(server);
    const pids = server.lines.filter((l) => l.msg === 'worker ready').map((l) => l.pid as number);
    process.kill(pids[0], 'SIGKILL');
    await server.waitFor('worker died; starting a replacement');
    await server.waitFor('worker ready', 3);
    const replacement = server.lines.filter((l) => l.msg === 'worker ready').at(-1)!.pid;
    assert.ok(!pids.includes(replacement));
    assert.ok(alive(replacement) && alive(pids[1]));
  });

  it('reloads the model in every worker on SIGHUP, and drains every worker on SIGTERM', async () => {
    assert.ok(server);
    server.child.kill('SIGHUP');
    await server.waitFor('model reloaded', 2);
    const pids = server.lines.filter((l) => l.msg === 'worker ready').map((l) => l.pid as number);
    server.child.kill('SIGTERM');
    const { code } = await server.exited;
    assert.equal(code, 0);
    assert.equal(server.count('shutting down: draining in-flight requests'), 2, 'each live worker drained');
    await until('every worker to exit', () => pids.every((p) => !alive(p)), { timeoutMs: 5_000 });
  });
});

describe('one process with METRICS_PORT', () => {
  let server: ServerProcess | undefined;
  after(() => server?.kill());

  it('serves /metrics only on the metrics port, and reloads on SIGHUP', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    server = new ServerProcess({ PORT: String(port), METRICS_PORT: String(metricsPort) });
    await server.waitFor('model ready');
    await server.waitFor('metrics listening');
    assert.equal((await predict(`http://127.0.0.1:${port}`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/graphql`)).status, 404);
    const text = await scrape(`http://127.0.0.1:${metricsPort}`);
    assert.equal(metricValue(text, 'pm_inference_rows_total'), 1);
    server.child.kill('SIGHUP');
    await server.waitFor('model reloaded');
    assert.equal(metricValue(await scrape(`http://127.0.0.1:${metricsPort}`), 'pm_model_reloads_total', { outcome: 'ok' }), 1);
    server.child.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
  });
});
