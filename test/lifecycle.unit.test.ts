// The process lifecycle an operator sees (issue 25): readiness is true in the one state that takes new
// traffic (`ready`) and false in every other, whatever sequence of loads, failures, reloads, drains and
// closes led there; the probe routes answer what the host says; the HTTP drain walks its phases on a
// virtual clock (node:test's mock timers), not on sleeps.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, it, mock } from 'node:test';
import fastifyUnderPressure from '@fastify/under-pressure';
import Fastify from 'fastify';
import { buildSchema, lexicographicSortSchema, printSchema } from 'graphql';
import pino from 'pino';
import type { Config } from '../src/config';
import { Drain } from '../src/http/drain';
import { probeRoutes } from '../src/http/probes.plugin';
import type { InferenceService } from '../src/inference/inference.service';
import { ModelHost, type ModelState } from '../src/inference/model-host';
import type { Metrics } from '../src/observability/metrics';

const silent = pino({ level: 'silent' });

/** Just enough of an InferenceService for the host's lifecycle (no session). */
function fakeService(version: string, golden: () => Promise<void> = () => Promise.resolve()): InferenceService {
  return {
    manifest: { version },
    device: 'cpu',
    close: () => Promise.resolve(),
    retire: () => Promise.resolve(),
    checkGolden: golden,
    tapPredictions: () => undefined,
    reportServed: () => undefined,
    stats: () => ({ queuedRows: 0 }),
  } as unknown as InferenceService;
}

/** A promise settled from outside, for a load still in flight. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('readiness: true in ready, false in every other state', () => {
  const check = (host: ModelHost, where: string) => {
    assert.equal(host.ready, host.state.status === 'ready', `${where}: ready is ${host.ready} in ${host.state.status}`);
  };

  it('walks every state once: loading, ready, draining, closing; loading, failed; loading, draining', async () => {
    const host = new ModelHost();
    const seen: Array<[ModelState['status'], boolean]> = [];
    const note = () => seen.push([host.state.status, host.ready]);
    note();
    await host.load(() => Promise.resolve(fakeService('1')));
    note();
    host.drain();
    note();
    await host.close();
    note();
    const failing = new ModelHost();
    await assert.rejects(
      failing.load(() => Promise.reject(new Error('no model'))),
      /no model/,
    );
    seen.push([failing.state.status, failing.ready]);
    const abandoned = new ModelHost();
    abandoned.drain();
    seen.push([abandoned.state.status, abandoned.ready]);
    assert.deepEqual(seen, [
      ['loading', false],
      ['ready', true],
      ['draining', false],
      ['closing', false],
      ['failed', false],
      ['draining', false],
    ]);
  });

  it('holds after every step of random sequences of loads, failed and good reloads, drains and closes', async () => {
    const next = random(25);
    const statuses = new Set<string>();
    for (let run = 0; run < 60; run++) {
      const host = new ModelHost();
      let version = 0;
      const steps: string[] = [];
      for (let step = 0; step < 8; step++) {
        const pick = Math.floor(next() * 6);
        const where = () => `run ${run}: ${steps.join(' → ')}`;
        if (pick === 0) {
          steps.push('load');
          await host.load(() => Promise.resolve(fakeService(String(++version)))).catch(() => undefined);
        } else if (pick === 1) {
          steps.push('failed load');
          await host.load(() => Promise.reject(new Error('broken model'))).catch(() => undefined);
        } else if (pick === 2) {
          steps.push('reload');
          await host.reload(silent).catch(() => undefined);
        } else if (pick === 3) {
          steps.push('drain');
          host.drain();
        } else if (pick === 4) {
          steps.push('load drained midway');
          const pending = deferred<InferenceService>();
          const load = host.load(() => pending.promise).catch(() => undefined);
          check(host, where());
          host.drain();
          check(host, where());
          pending.resolve(fakeService(String(++version)));
          await load;
        } else {
          steps.push('close');
          await host.close();
        }
        statuses.add(host.state.status);
        check(host, where());
      }
    }
    assert.deepEqual([...statuses].sort(), ['closing', 'draining', 'failed', 'loading', 'ready']);
  });

  it('stays ready through a refused reload, and through a reload that switches models', async () => {
    const host = new ModelHost();
    let golden: () => Promise<void> = () => Promise.reject(new Error('golden case "x" outside tolerance'));
    await host.load(() => Promise.resolve(fakeService('1', () => golden())));
    await assert.rejects(host.reload(silent), /model reload refused: golden case "x"/);
    assert.equal(host.ready, true);
    assert.equal(host.service().manifest.version, '1');
    golden = () => Promise.resolve();
    await host.reload(silent);
    assert.equal(host.ready, true);
  });
});

describe('probe routes', () => {
  const schema = buildSchema('type Query { b: Int a: String }');
  const config = (over: { metricsPort?: number; landingPage?: boolean; introspection?: boolean } = {}) =>
    ({
      observability: { metrics: { port: over.metricsPort } },
      server: { landingPage: over.landingPage ?? false, introspection: over.introspection ?? false },
    }) as unknown as Config;
  const metrics = { metricsText: () => Promise.resolve({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'pm_up 1\n' }) };
  async function probes(
    models: { ready: boolean; state: { status: string } },
    over: Parameters<typeof config>[0] = {},
    withMetrics = true,
  ) {
    const fastify = Fastify();
    await fastify.register(probeRoutes, {
      config: config(over),
      models: models as unknown as ModelHost,
      schema,
      metrics: withMetrics ? (metrics as unknown as Metrics) : undefined,
    });
    await fastify.ready();
    return fastify;
  }

  it('/readyz answers 200 only when the host is ready, with the host status; /healthz is always alive', async () => {
    const host = new ModelHost();
    const fastify = await probes(host);
    try {
      const readyz = async () => {
        const res = await fastify.inject('/readyz');
        return [res.statusCode, res.json().status];
      };
      assert.deepEqual(await readyz(), [503, 'loading']);
      await host.load(() => Promise.resolve(fakeService('1')));
      assert.deepEqual(await readyz(), [200, 'ready']);
      host.drain();
      assert.deepEqual(await readyz(), [503, 'draining']);
      await host.close();
      assert.deepEqual(await readyz(), [503, 'closing']);
      const healthz = await fastify.inject('/healthz');
      assert.equal(healthz.statusCode, 200);
      assert.deepEqual(healthz.json(), { status: 'alive' });
    } finally {
      await fastify.close();
    }
  });

  it('serves /metrics on the main port only when it has no port of its own', async () => {
    const here = await probes({ ready: true, state: { status: 'ready' } });
    const ownPort = await probes({ ready: true, state: { status: 'ready' } }, { metricsPort: 9464 });
    const none = await probes({ ready: true, state: { status: 'ready' } }, {}, false);
    try {
      const res = await here.inject('/metrics');
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(res.body, 'pm_up 1\n');
      assert.equal((await ownPort.inject('/metrics')).statusCode, 404);
      assert.equal((await none.inject('/metrics')).statusCode, 404);
    } finally {
      await Promise.all([here.close(), ownPort.close(), none.close()]);
    }
  });

  it('redirects / to /graphql with the landing page, and serves the sorted SDL with introspection', async () => {
    const on = await probes({ ready: true, state: { status: 'ready' } }, { landingPage: true, introspection: true });
    const off = await probes({ ready: true, state: { status: 'ready' } });
    try {
      const root = await on.inject('/');
      assert.equal(root.statusCode, 302);
      assert.equal(root.headers.location, '/graphql');
      const sdl = await on.inject('/schema.graphql');
      assert.equal(sdl.statusCode, 200);
      assert.equal(sdl.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(sdl.body, printSchema(lexicographicSortSchema(schema)));
      assert.match(sdl.body, /a: String\n {2}b: Int/);
      assert.equal((await off.inject('/')).statusCode, 404);
      assert.equal((await off.inject('/schema.graphql')).statusCode, 404);
    } finally {
      await Promise.all([on.close(), off.close()]);
    }
  });

  it('answers the probes and /metrics while the server sheds load; the other routes get 503', async () => {
    const fastify = Fastify();
    // An unhealthy external check puts under-pressure in the same refusing state as a long event-loop stall.
    await fastify.register(fastifyUnderPressure, { healthCheck: () => Promise.resolve(false), healthCheckInterval: 60_000 });
    await fastify.register(probeRoutes, {
      config: config({ landingPage: true, introspection: true }),
      models: { ready: true, state: { status: 'ready' } } as unknown as ModelHost,
      schema,
      metrics: metrics as unknown as Metrics,
    });
    try {
      const status = async (url: string) => (await fastify.inject(url)).statusCode;
      assert.deepEqual(
        await Promise.all(['/healthz', '/readyz', '/metrics', '/', '/schema.graphql'].map(status)),
        [200, 200, 200, 503, 503],
      );
    } finally {
      await fastify.close();
    }
  });
});

// On mock timers a drain that overstays leaves `stop()` pending for ever: the timeout makes that a failure, not a hang.
describe('Drain: phases on a virtual clock', { timeout: 30_000 }, () => {
  const servers: http.Server[] = [];
  after(() => servers.forEach((s) => s.closeAllConnections()));

  /** A server that answers /quick at once and parks every other request until the test answers it. */
  async function server() {
    const parked: http.ServerResponse[] = [];
    const s = http.createServer((req, res) => (req.url === '/quick' ? res.end('quick') : parked.push(res)));
    servers.push(s);
    const drain = new Drain(s);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as net.AddressInfo).port;
    return { s, drain, port, parked };
  }
  const connect = (port: number) =>
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  /** Lets real I/O happen until `done()`, for at most `limitMs` of real time (Date is not mocked). */
  async function until(done: () => boolean, limitMs = 5_000) {
    const deadline = Date.now() + limitMs;
    while (!done() && Date.now() < deadline) await turn();
    return done();
  }
  /** Advances the virtual clock `ms` in 20 ms steps, letting I/O run between them; returns the ms it took. */
  async function advance(ms: number, done: () => boolean) {
    let elapsed = 0;
    while (elapsed < ms && !done()) {
      mock.timers.tick(20);
      elapsed += 20;
      await until(done, 2);
    }
    return elapsed;
  }

  it('with no connections open: closes the listener and ends in closing at once', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    try {
      const { s, drain } = await server();
      assert.equal(drain.phase, 'serving');
      await drain.stop(60_000);
      assert.equal(drain.phase, 'closing');
      assert.equal(s.listening, false);
    } finally {
      mock.timers.reset();
    }
  });

  it('keeps an open connection through draining until its client closes it, then closes (before the timeout)', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    try {
      const { s, drain, port } = await server();
      const client = await connect(port);
      assert.ok(await until(() => s.listening));
      let stopped = false;
      const stop = drain.stop(10_000).then(() => (stopped = true));
      assert.ok(await until(() => !s.listening), 'the listener closes');
      assert.equal(drain.phase, 'draining');
      await assert.rejects(connect(port), /ECONNREFUSED/, 'no new connections while draining');
      assert.equal(await advance(2_000, () => stopped), 2_000, 'the open connection holds the drain');
      assert.equal(drain.phase, 'draining');
      let clientClosed = false;
      client.on('close', () => (clientClosed = true));
      client.end();
      assert.ok(await until(() => clientClosed), 'the connection closes');
      const took = await advance(10_000, () => stopped);
      await stop;
      assert.ok(took <= 100, `closed ${took} ms after the client left, not at the timeout`);
      assert.equal(drain.phase, 'closing');
    } finally {
      mock.timers.reset();
    }
  });

  it('at the timeout: closing, idle connections closed at once, busy ones a second later', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    try {
      const { drain, port, parked } = await server();
      // Idle: a keep-alive connection whose request has been answered.
      const idle = await connect(port);
      let answered = '';
      idle.on('data', (chunk: Buffer) => (answered += chunk.toString()));
      idle.write('GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.ok(await until(() => answered.endsWith('quick')));
      const busy = await connect(port);
      busy.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.ok(await until(() => parked.length === 1));
      const closed = { idle: false, busy: false };
      idle.on('close', () => (closed.idle = true));
      busy.on('close', () => (closed.busy = true));
      let stopped = false;
      const stop = drain.stop(500).then(() => (stopped = true));
      assert.equal(await advance(480, () => drain.phase === 'closing'), 480);
      assert.equal(drain.phase, 'draining');
      assert.ok((await advance(40, () => drain.phase === 'closing')) <= 40);
      assert.equal(drain.phase, 'closing');
      assert.ok(await until(() => closed.idle), 'the idle connection is closed when closing begins');
      assert.equal(closed.busy, false);
      assert.equal(await advance(960, () => closed.busy), 960, 'the busy one gets its last second');
      assert.ok((await advance(100, () => stopped)) <= 100);
      await stop;
      assert.ok(await until(() => closed.busy), 'then every connection is closed');
    } finally {
      mock.timers.reset();
    }
  });

  it('a request answered during the last second ends the drain early', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    try {
      const { drain, port, parked } = await server();
      const busy = await connect(port);
      busy.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.ok(await until(() => parked.length === 1));
      let stopped = false;
      const stop = drain.stop(100).then(() => (stopped = true));
      await advance(120, () => drain.phase === 'closing');
      assert.equal(drain.phase, 'closing');
      let busyClosed = false;
      busy.on('close', () => (busyClosed = true));
      parked[0].end('done');
      busy.resume();
      assert.ok(await until(() => busyClosed), 'the answered connection closes');
      const took = await advance(1_000, () => stopped);
      await stop;
      assert.ok(took < 200, `ended ${took} ms after the answer`);
    } finally {
      mock.timers.reset();
    }
  });
});
