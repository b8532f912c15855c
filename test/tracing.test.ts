// OpenTelemetry traces (issue 23): the real server exports to a real OTLP/HTTP receiver (JSON and
// protobuf), and the spans are checked by their ids, parents, links and attributes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver';
import { holdRuns, NORMAL_READING, startServer, type TestServer } from './helpers/server';
import { until } from './helpers/wait';

const PREDICT = `mutation Score($input: SensorReadingInput!) { predict(input: $input) { label modelVersion } }`;
const PREDICT_BATCH = `mutation ScoreMany($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { label } }`;
/** OTLP's SpanKind numbers (trace.proto) and StatusCode. */
const SERVER = 2;
const STATUS_ERROR = 2;

function traceparent(): { header: string; traceId: string; parentId: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${parentId}-01`, traceId, parentId };
}

/** Env for a server exporting to `receiver` right away (no 5 s batching delay in tests). */
function tracingEnv(receiver: OtlpReceiver, protocol: 'http/json' | 'http/protobuf', extra: Record<string, string> = {}) {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_BSP_SCHEDULE_DELAY: '10',
    OTEL_SERVICE_NAME: 'pm-test',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,team=maintenance%20ops',
    RATE_LIMIT_ENABLED: 'false',
    ...extra,
  };
}

async function droppedSpans(server: TestServer): Promise<Record<string, number>> {
  const text = (await server.app.metrics!.metricsText()).body;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^pm_trace_spans_dropped_total\{reason="(\w+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

describe('tracing over OTLP/JSON: one predict continuing a traceparent', () => {
  let receiver: OtlpReceiver;
  let server: TestServer;
  before(async () => {
    receiver = await OtlpReceiver.start();
    server = await startServer(tracingEnv(receiver, 'http/json'));
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  it('exports the HTTP, operation and queue-wait spans in the caller trace, and never the variables or the key', async () => {
    const tp = traceparent();
    const res = await server.gql(
      PREDICT,
      { input: { ...NORMAL_READING, airTemperature: 301.37 } },
      {
        traceparent: tp.header,
        'x-api-key': 'key-that-must-not-leak',
      },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.extensions?.traceId, tp.traceId);

    const http = await receiver.waitFor((s) => s.traceId === tp.traceId && s.kind === SERVER, 'the HTTP span');
    const operation = await receiver.waitFor((s) => s.traceId === tp.traceId && s.parentSpanId === http.spanId, 'the operation span');
    const wait = await receiver.waitFor((s) => s.traceId === tp.traceId && s.name === 'inference.queue_wait', 'the queue-wait span');

    assert.equal(http.parentSpanId, tp.parentId, 'the HTTP span continues the incoming traceparent');
    assert.equal(http.name, 'POST /graphql');
    assert.equal(http.attributes['http.response.status_code'], 200);
    assert.equal(operation.name, 'mutation Score');
    assert.deepEqual(
      {
        type: operation.attributes['graphql.operation.type'],
        name: operation.attributes['graphql.operation.name'],
        root: operation.attributes['pm.graphql.root_field'],
        rows: operation.attributes['pm.rows'],
        outcome: operation.attributes['pm.outcome'],
      },
      { type: 'mutation', name: 'Score', root: 'predict', rows: 1, outcome: 'ok' },
    );
    assert.equal(wait.parentSpanId, operation.spanId);
    assert.equal(wait.attributes['pm.rows'], 1);
    assert.ok(receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType.startsWith('application/json')));
    assert.equal(http.resource['service.name'], 'pm-test');
    assert.equal(http.resource['team'], 'maintenance ops');
    assert.equal(typeof http.resource['service.instance.id'], 'string');

    const everything = JSON.stringify(receiver.spans);
    assert.doesNotMatch(everything, /301\.37/, 'a reading value reached a span');
    assert.doesNotMatch(everything, /key-that-must-not-leak/, 'the API key reached a span');

    const line = await server.logs.waitFor((l) => l.msg === 'request' && l.traceId === tp.traceId);
    assert.equal(line.status, 200);
  });

  it('ends the queue-wait span of rows dropped at the queue deadline with that reason', async () => {
    const slow = await startServer(tracingEnv(receiver, 'http/json', { MAX_QUEUE_WAIT_MS: '50' }));
    try {
      const held = holdRuns(slow.models.service());
      const blocker = slow.gql(PREDICT, { input: NORMAL_READING });
      await held.firstRun;
      const tp = traceparent();
      const late = await slow.gql(PREDICT, { input: NORMAL_READING }, { traceparent: tp.header });
      held.release();
      await blocker;
      assert.equal(late.body.errors?.[0].extensions?.code, 'SERVER_BUSY');
      const wait = await receiver.waitFor((s) => s.traceId === tp.traceId && s.name === 'inference.queue_wait', 'the dropped wait');
      assert.equal(wait.attributes['pm.drop.reason'], 'deadline');
      assert.equal(wait.status.code, STATUS_ERROR);
      const operation = await receiver.waitFor((s) => s.traceId === tp.traceId && s.name === 'mutation Score', 'its operation');
      assert.equal(operation.attributes['pm.outcome'], 'SERVER_BUSY');
      assert.equal(operation.status.code, STATUS_ERROR);
    } finally {
      await slow.close();
    }
  });
});

describe('tracing over OTLP/protobuf: shared runs, big batches, reloads', () => {
  let receiver: OtlpReceiver;
  let server: TestServer;
  const ADMIN_KEY = 'admin-key-for-tracing';
  before(async () => {
    receiver = await OtlpReceiver.start();
    const { createHash } = await import('node:crypto');
    server = await startServer(
      tracingEnv(receiver, 'http/protobuf', { ADMIN_API_KEYS: createHash('sha256').update(ADMIN_KEY).digest('hex') }),
    );
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  it('8 concurrent predicts sharing one run give one onnx.run span linking all 8 request spans', async () => {
    const service = server.models.service();
    const held = holdRuns(service);
    const blocker = server.gql(PREDICT, { input: NORMAL_READING });
    await held.firstRun;
    const calls = Array.from({ length: 8 }, () => server.gql(PREDICT, { input: NORMAL_READING }, { traceparent: traceparent().header }));
    // 1 row running, 8 waiting: released now, the 8 form the next run together.
    await until('8 rows queued behind the held run', () => service.stats().queuedRows === 9, { everyMs: 5 });
    held.release();
    held.restore();
    const responses = await Promise.all(calls);
    await blocker;
    const traceIds = responses.map((r) => {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.extensions!.traceId as string;
    });
    assert.equal(new Set(traceIds).size, 8);

    const operations: ReceivedSpan[] = [];
    for (const id of traceIds)
      operations.push(await receiver.waitFor((s) => s.traceId === id && s.name === 'mutation Score', 'an operation span'));
    const run = await receiver.waitFor(
      (s) => s.name === 'onnx.run' && s.links.some((l) => l.spanId === operations[0].spanId),
      'the shared run',
    );
    assert.equal(run.attributes['pm.rows'], 8);
    assert.deepEqual(run.links.map((l) => `${l.traceId}/${l.spanId}`).sort(), operations.map((o) => `${o.traceId}/${o.spanId}`).sort());
    assert.equal(run.parentSpanId, '', 'a run is a root span that links its callers');
    assert.equal(run.attributes['pm.model.version'], service.manifest.version);
    assert.equal(run.attributes['pm.device'], service.device);
    assert.equal(receiver.spans.filter((s) => s.name === 'onnx.run' && s.links.some((l) => traceIds.includes(l.traceId))).length, 1);
    assert.ok(receiver.requests.every((r) => r.contentType === 'application/x-protobuf'));
  });

  it('a predictBatch of 1,000 rows gives one operation span with rows=1000', async () => {
    const tp = traceparent();
    const inputs = Array.from({ length: 1_000 }, () => NORMAL_READING);
    const res = await server.gql(PREDICT_BATCH, { inputs }, { traceparent: tp.header });
    assert.equal(res.status, 200);
    assert.equal(res.body.data.predictBatch.length, 1_000);
    const run = await receiver.waitFor((s) => s.name === 'onnx.run' && s.links.some((l) => l.traceId === tp.traceId), 'its run');
    const operations = receiver.inTrace(tp.traceId).filter((s) => s.name === 'mutation ScoreMany');
    assert.equal(operations.length, 1);
    assert.equal(operations[0].attributes['pm.rows'], 1_000);
    assert.equal(operations[0].attributes['pm.graphql.root_field'], 'predictBatch');
    assert.equal(run.attributes['pm.rows'], 1_000);
  });

  it('a model reload is a span under the operation that asked for it', async () => {
    const tp = traceparent();
    const res = await server.gql(`mutation { reloadModel { version } }`, undefined, { traceparent: tp.header, 'x-api-key': ADMIN_KEY });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const reload = await receiver.waitFor((s) => s.traceId === tp.traceId && s.name === 'model.reload', 'the reload span');
    const operation = receiver.inTrace(tp.traceId).find((s) => s.name === 'mutation');
    assert.equal(reload.parentSpanId, operation?.spanId);
    assert.equal(reload.attributes['pm.reload.outcome'], 'ok');
  });
});

describe('tracing: sampling and an unreachable collector', () => {
  it('sampling 0 exports nothing, and the response still names the trace', async () => {
    const receiver = await OtlpReceiver.start();
    const server = await startServer(
      tracingEnv(receiver, 'http/json', { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }),
    );
    try {
      const tp = traceparent();
      const res = await server.gql(PREDICT, { input: NORMAL_READING }, { traceparent: tp.header });
      assert.equal(res.status, 200);
      assert.equal(res.body.extensions?.traceId, tp.traceId);
      const batch = await server.gql(PREDICT_BATCH, { inputs: [NORMAL_READING, NORMAL_READING] });
      assert.equal(batch.status, 200);
    } finally {
      await server.close(); // flushes whatever was queued
    }
    // The same setup at ratio 1 exports within 10 ms of a span's end (the tests above); nothing came here.
    assert.deepEqual(receiver.spans, []);
    assert.deepEqual(receiver.requests, []);
    await receiver.close();
  });

  it('a dead collector fails no request; the spans it never took are counted as dropped', async () => {
    const gone = await OtlpReceiver.start();
    await gone.close(); // its port now refuses connections
    const server = await startServer({
      ...tracingEnv(gone, 'http/protobuf'),
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      OTEL_BSP_MAX_QUEUE_SIZE: '1',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1',
    });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => server.gql(PREDICT, { input: NORMAL_READING })));
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.equal(r.body.data.predict.modelVersion, server.models.service().manifest.version);
      }
      await until('dropped spans counted', async () => {
        const d = await droppedSpans(server);
        return d.queue_full > 0 && d.export_failed > 0;
      });
    } finally {
      await server.close();
    }
  });
});

describe('tracing: off means off, and bad settings refuse to start', () => {
  const root = path.resolve(__dirname, '..', '..');
  function node(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c));
      child.stderr.on('data', (c: Buffer) => (out += c));
      child.on('close', (code) => resolve({ code, out }));
    });
  }

  it('with the default exporter (none) no OpenTelemetry SDK module is loaded and no tracing hook is registered', async () => {
    const script = `
      const { loadConfig } = require('./dist/src/config');
      const { createApp } = require('./dist/src/server');
      const pino = require('pino');
      (async () => {
        const app = await createApp(loadConfig({ NODE_ENV: 'test', PORT: '0' }), pino({ level: 'silent' }));
        const loaded = Object.keys(require.cache).filter((k) => /@opentelemetry[\\\\/](sdk-trace|exporter-|core|resources|otlp-)/.test(k));
        const hooks = app.fastify.hasRequestDecorator('otelSpans');
        await app.stop();
        console.log(JSON.stringify({ loaded: loaded.length, hooks }));
      })();`;
    const { code, out } = await node(['-e', script], {});
    assert.equal(code, 0, out);
    assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), { loaded: 0, hooks: false });
  });

  for (const [env, variable] of [
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER'],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  ] as const) {
    it(`refuses ${JSON.stringify(env)} at start: exit 2, one line naming ${variable}`, async () => {
      const { code, out } = await node([path.join(root, 'dist', 'src', 'main.js')], { ...env, PORT: '0', ENV_FILE: '/dev/null' });
      assert.equal(code, 2, out);
      assert.match(out, new RegExp(`^Invalid configuration: ${variable}: [^\\n]+\\n$`));
    });
  }
});
