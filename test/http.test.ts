import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { failRuns, holdRuns, NORMAL_READING, PREDICTION_FIELDS, startServer, TEST_MODEL_DIR, type TestServer } from './helpers/server';
import { until } from './helpers/wait';

const PREDICT = `mutation Predict($input: SensorReadingInput!) { predict(input: $input) { ${PREDICTION_FIELDS} } }`;
const BATCH = `mutation PredictBatch($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { predictedFailureType probability isAnomaly } }`;
const MAIN = path.resolve('dist/src/main.js');

describe('HTTP server on port 0', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ CORS_ORIGINS: 'https://app.example.com', BODY_LIMIT_BYTES: '4096', RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => s.close());

  it('serves /healthz and /readyz for orchestrators', async () => {
    const alive = await fetch(`${s.origin}/healthz`);
    assert.equal(alive.status, 200);
    assert.deepEqual(await alive.json(), { status: 'alive' });
    const ready = await fetch(`${s.origin}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' });
  });

  it('runs every operation', async () => {
    const one = await s.gql(PREDICT, { input: NORMAL_READING });
    assert.equal(one.status, 200);
    assert.equal(one.body.errors, undefined);
    assert.equal(one.body.data.predict.probabilities.length, 6);
    const many = await s.gql(BATCH, { inputs: [NORMAL_READING, { ...NORMAL_READING, productType: 'H' }] });
    assert.equal(many.body.data.predictBatch.length, 2);
    const info = await s.gql('{ health { status modelLoaded device serverVersion } modelInfo { name version device } }');
    assert.equal(info.body.data.health.status, 'READY');
    assert.equal(info.body.data.health.modelLoaded, true);
    assert.equal(info.body.data.modelInfo.device, 'cpu');
  });

  it('answers BAD_USER_INPUT for impossible readings', async () => {
    const res = await s.gql(PREDICT, { input: { ...NORMAL_READING, rotationalSpeed: -10 } });
    assert.equal(res.body.errors?.[0].extensions?.code, 'BAD_USER_INPUT');
    assert.equal(res.body.errors?.[0].extensions?.violations[0].field, 'rotationalSpeed');
    assert.equal(res.body.errors?.[0].extensions?.violations[0].bound, 0);
  });

  it('sets Helmet security headers', async () => {
    const res = await fetch(`${s.origin}/healthz`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    // Plain-HTTP deployments must not have their own assets rewritten to https.
    assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /upgrade-insecure-requests/);
    assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN');
    assert.equal(res.headers.get('x-powered-by'), null);
    assert.ok(res.headers.get('x-request-id'));
  });

  it('serves the Apollo Sandbox landing page to browsers outside production', async () => {
    const res = await fetch(s.url, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /embeddable-sandbox/);
    // The landing page's CSP admits the Sandbox embed; the API's stays default-src 'self'.
    assert.match(res.headers.get('content-security-policy') ?? '', /sandbox\.embed\.apollographql\.com/);
  });

  it('allows only listed CORS origins', async () => {
    const preflight = (origin: string) =>
      fetch(s.url, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const allowed = await preflight('https://app.example.com');
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com');
    const denied = await preflight('https://evil.example.com');
    assert.equal(denied.headers.get('access-control-allow-origin'), null);
  });

  it('puts CORS headers on actual requests from allowed origins only; CORS_ORIGINS=* allows any', async () => {
    const post = (url: string, origin?: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
        body: JSON.stringify({ query: '{ health { status } }' }),
      });
    const allowed = await post(s.url, 'https://app.example.com');
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.match(allowed.headers.get('vary') ?? '', /origin/i);
    assert.equal((await post(s.url, 'https://evil.example.com')).headers.get('access-control-allow-origin'), null);
    const noOrigin = await post(s.url);
    assert.equal(noOrigin.status, 200);
    assert.equal(noOrigin.headers.get('access-control-allow-origin'), null);
    const open = await startServer({ CORS_ORIGINS: '*', RATE_LIMIT_ENABLED: 'false' });
    try {
      assert.equal(
        (await post(open.url, 'https://anywhere.example.net')).headers.get('access-control-allow-origin'),
        'https://anywhere.example.net',
      );
      // Same answer as the cors middleware gives when it runs without an Origin: a Vary for caches.
      assert.match((await post(open.url)).headers.get('vary') ?? '', /origin/i);
    } finally {
      await open.close();
    }
  });

  it('limits the body size, content type and JSON syntax before GraphQL runs', async () => {
    const big = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ health { status } }`, pad: 'x'.repeat(5000) }),
    });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as any).errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
    const text = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{ health { status } }' });
    assert.equal(text.status, 415);
    const broken = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    assert.equal(broken.status, 400);
    assert.equal(((await broken.json()) as any).errors[0].extensions.code, 'BAD_REQUEST');
  });

  it('writes one structured access-log line per request with operation, duration and outcome', async () => {
    const requestId = `log-test-${Date.now()}`;
    await s.gql(PREDICT, { input: NORMAL_READING }, { 'x-request-id': requestId });
    await s.logs.waitFor((l) => l.requestId === requestId);
    const lines = s.logs.lines.filter((l) => l.requestId === requestId);
    assert.equal(lines.length, 1);
    assert.equal(lines[0].operation, 'Predict');
    assert.equal(lines[0].outcome, 'ok');
    assert.equal(lines[0].status, 200);
    assert.equal(typeof lines[0].durationMs, 'number');
    const badId = `${requestId}-bad`;
    await s.gql(PREDICT, { input: { ...NORMAL_READING, torque: -1 } }, { 'x-request-id': badId });
    const bad = await s.logs.waitFor((l) => l.requestId === badId);
    assert.equal(bad.outcome, 'error');
    assert.deepEqual(bad.errorCodes, ['BAD_USER_INPUT']);
  });

  it('answers INFERENCE_FAILED over HTTP and keeps serving', async () => {
    const faulty = failRuns(s.models.service(), 'native failure');
    const failed = await s.gql(PREDICT, { input: NORMAL_READING });
    faulty.restore();
    assert.equal(failed.body.errors?.[0].extensions?.code, 'INFERENCE_FAILED');
    assert.doesNotMatch(JSON.stringify(failed.body), /native failure/);
    assert.equal((await s.gql(PREDICT, { input: NORMAL_READING })).body.errors, undefined);
  });

  it('answers SERVER_BUSY over HTTP when the queue is full', async () => {
    const small = await startServer({ MAX_QUEUE_ROWS: '20', MAX_BATCH_ROWS: '10', RATE_LIMIT_ENABLED: 'false' });
    try {
      const service = small.models.service();
      const hold = holdRuns(service);
      const fillers = [1, 2].map(() => small.gql(BATCH, { inputs: Array.from({ length: 10 }, () => NORMAL_READING) }));
      await until('20 queued rows', () => service.stats().queuedRows >= 20, { everyMs: 5 });
      const busy = await small.gql(PREDICT, { input: NORMAL_READING });
      hold.release();
      hold.restore();
      for (const f of await Promise.all(fillers)) assert.equal(f.body.errors, undefined);
      assert.equal(busy.body.errors?.[0].extensions?.code, 'SERVER_BUSY');
      assert.equal(busy.body.errors?.[0].extensions?.maxQueueRows, 20);
    } finally {
      await small.close();
    }
  });
});

describe('HTTP server in production mode', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ NODE_ENV: 'production', TRUSTED_DOCUMENTS: 'allow', RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => s.close());

  it('masks unknown errors as INTERNAL_SERVER_ERROR without internals', async () => {
    const original = s.models.service.bind(s.models);
    s.models.service = () => {
      throw new Error('secret connection string postgres://admin:hunter2@db');
    };
    const res = await s.gql(PREDICT, { input: NORMAL_READING });
    s.models.service = original;
    const text = JSON.stringify(res.body);
    assert.equal(res.body.errors?.[0].extensions?.code, 'INTERNAL_SERVER_ERROR');
    assert.equal(res.body.errors?.[0].message, 'Internal server error');
    assert.doesNotMatch(text, /hunter2|stacktrace|at \//);
  });

  it('serves no landing page in production', async () => {
    const res = await fetch(s.url, { headers: { accept: 'text/html' } });
    // A browser's GET without a query is a bad GraphQL request here, answered as JSON, not a page (nor a 500).
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as { errors: Array<{ extensions: { code: string } }> };
    assert.equal(body.errors[0].extensions.code, 'BAD_REQUEST');
    assert.equal((await fetch(`${s.origin}/`, { redirect: 'manual' })).status, 404, 'no redirect to a landing page either');
  });

  it('sends no stack traces with client errors and keeps introspection off', async () => {
    const res = await s.gql(PREDICT, { input: { ...NORMAL_READING, torque: -5 } });
    assert.equal(res.body.errors?.[0].extensions?.code, 'BAD_USER_INPUT');
    assert.equal(res.body.errors?.[0].extensions?.stacktrace, undefined);
    const intro = await s.gql('{ __schema { types { name } } }');
    assert.equal(intro.body.errors?.[0].extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
  });
});

describe('model lifecycle over HTTP', () => {
  it('reports not ready and MODEL_NOT_READY until the model loads', async () => {
    const s = await startServer({ RATE_LIMIT_ENABLED: 'false' }, { load: false });
    try {
      const ready = await fetch(`${s.origin}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'loading' });
      const res = await s.gql(PREDICT, { input: NORMAL_READING });
      assert.equal(res.body.errors?.[0].extensions?.code, 'MODEL_NOT_READY');
      assert.equal((await fetch(`${s.origin}/healthz`)).status, 200);
    } finally {
      await s.close();
    }
  });

  it('drains an in-flight request on stop, then refuses connections', async () => {
    const s = await startServer({ RATE_LIMIT_ENABLED: 'false' });
    const hold = holdRuns(s.models.service());
    const inFlight = s.gql(PREDICT, { input: NORMAL_READING });
    await hold.firstRun;
    const stopped = s.close();
    // The stop has begun while the request is still running: draining, not ready, listener closed.
    assert.equal(s.models.state.status, 'draining');
    await until('the listener closed', () => !s.app.httpServer.listening);
    const probe = await fetch(`${s.origin}/readyz`).catch((err: Error) => err);
    assert.ok(probe instanceof Error, 'no new connection is accepted while draining');
    hold.release();
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.body.errors, undefined);
    assert.equal(res.body.data.predict.probabilities.length, 6);
    await stopped;
    assert.equal(s.models.state.status, 'closing');
    await assert.rejects(fetch(`${s.origin}/healthz`));
  });
});

/** Runs the real entry point; resolves with its exit code and output. */
function runMain(env: Record<string, string>, onReady?: (child: ReturnType<typeof spawn>) => void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, NODE_ENV: 'test', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      if (onReady && stdout.includes('"model ready"')) {
        const cb = onReady;
        onReady = undefined;
        cb(child);
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('process start-up and shutdown', () => {
  it('exits 1 with a clear message when the model is missing', async () => {
    const { code, stderr } = await runMain({ MODEL_DIR: path.join(os.tmpdir(), 'no-such-model-dir') });
    assert.equal(code, 1);
    assert.match(stderr, /model\.json: cannot read model manifest \(not found\)/);
  });

  it('exits 1 when the ONNX file does not match model.json', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'corrupt-model-'));
    copyFileSync(path.join(TEST_MODEL_DIR, 'model.json'), path.join(dir, 'model.json'));
    const onnx = readFileSync(path.join(TEST_MODEL_DIR, 'model.onnx'));
    writeFileSync(path.join(dir, 'model.onnx'), onnx.subarray(0, Math.floor(onnx.length / 2)));
    const { code, stderr } = await runMain({ MODEL_DIR: dir });
    assert.equal(code, 1);
    assert.match(stderr, /does not match model\.json/);
  });

  it('exits 2 naming the variable when configuration is invalid', async () => {
    const { code, stderr } = await runMain({ MAX_BATCH_SIZE: 'lots' });
    assert.equal(code, 2);
    assert.match(stderr, /MAX_BATCH_SIZE/);
  });

  it('fails at start when INFERENCE_DEVICE=cuda and no CUDA provider is usable', async (t) => {
    const { code, stderr } = await runMain({ MODEL_DIR: TEST_MODEL_DIR, INFERENCE_DEVICE: 'cuda' });
    if (code === 0) return t.skip('this host has a working CUDA provider');
    assert.equal(code, 1);
    assert.match(stderr, /INFERENCE_DEVICE=cuda/);
  });

  it('exits 0 on SIGTERM after serving', async () => {
    const { code, stdout } = await runMain({ MODEL_DIR: TEST_MODEL_DIR, INFERENCE_DEVICE: 'auto' }, (child) => child.kill('SIGTERM'));
    assert.equal(code, 0);
    assert.match(stdout, /"device":"cpu"/);
    assert.match(stdout, /"stopped"/);
  });
});
