// Traces with several processes: WORKERS=2 (each worker exports its own spans with its own resource) and
// the fleet behind nginx (deploy/nginx.conf passes the caller's traceparent to the replica).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { findBinary, startFleet, type Fleet } from '../bench/fleet';
import { freePort } from '../bench/lib/net';
import { PREDICT_QUERY, readings } from '../bench/lib/requests';
import { OtlpReceiver } from './helpers/otlp-receiver';
import { ServerProcess } from './helpers/process';
import { until } from './helpers/wait';

const SERVER_KIND = 2;

function traceparent() {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${parentId}-01`, traceId, parentId };
}

async function predict(origin: string, header: string) {
  const res = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: header },
    body: JSON.stringify({ query: PREDICT_QUERY, variables: { input: readings(1)[0] } }),
  });
  return { status: res.status, body: (await res.json()) as { extensions?: { traceId?: string } } };
}

function tracingEnv(receiver: OtlpReceiver): Record<string, string> {
  return { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '10' };
}

describe('tracing with WORKERS=2', () => {
  let receiver: OtlpReceiver;
  let server: ServerProcess | undefined;
  before(async () => (receiver = await OtlpReceiver.start()));
  after(async () => {
    await server?.kill();
    await receiver.close();
  });

  it('every worker exports its own spans, told apart by service.instance.id and process.pid', async () => {
    const port = await freePort();
    server = new ServerProcess({ WORKERS: '2', PORT: String(port), RATE_LIMIT_ENABLED: 'false', ...tracingEnv(receiver) });
    await server.waitFor('worker ready', 2);
    const workerPids = new Set(server.lines.filter((l) => l.msg === 'worker ready').map((l) => l.pid as number));
    const sent = Array.from({ length: 16 }, () => traceparent());
    const results = await Promise.all(sent.map((tp) => predict(`http://127.0.0.1:${port}`, tp.header)));
    for (const [i, r] of results.entries()) assert.equal(r.body.extensions?.traceId, sent[i].traceId);
    await until('an HTTP span for each request', () =>
      sent.every((tp) => receiver.spans.some((s) => s.traceId === tp.traceId && s.kind === SERVER_KIND)),
    );
    const http = receiver.spans.filter((s) => s.kind === SERVER_KIND && sent.some((tp) => tp.traceId === s.traceId));
    const pids = new Set(http.map((s) => s.resource['process.pid'] as number));
    assert.deepEqual([...pids].sort(), [...workerPids].sort(), 'both workers exported, each as itself');
    const instances = new Set(http.map((s) => s.resource['service.instance.id']));
    assert.equal(instances.size, 2);
  });
});

const missing = ['nginx', 'redis-server'].filter((bin) => !findBinary(bin));
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(`${missing.join(' and ')} not installed, but CI=true: the fleet tracing test must run in CI`);
}

describe(
  'tracing through the fleet (nginx on deploy/nginx.conf)',
  { skip: missing.length > 0 ? `${missing.join(' and ')} not found` : false },
  () => {
    let receiver: OtlpReceiver;
    let fleet: Fleet;
    before(async () => {
      receiver = await OtlpReceiver.start();
      fleet = await startFleet({ replicas: 2, env: { RATE_LIMIT_MAX: '1000', ...tracingEnv(receiver) } });
    });
    after(async () => {
      await fleet?.stop();
      await receiver?.close();
    });

    it("continues the caller's traceparent through nginx into the replica's HTTP span", async () => {
      const tp = traceparent();
      const res = await predict(fleet.origin, tp.header);
      assert.equal(res.status, 200);
      assert.equal(res.body.extensions?.traceId, tp.traceId);
      const http = await receiver.waitFor((s) => s.traceId === tp.traceId && s.kind === SERVER_KIND, 'the replica HTTP span');
      assert.equal(http.parentSpanId, tp.parentId);
    });
  },
);
