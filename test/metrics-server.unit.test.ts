// METRICS_PORT's listener on its own (issue 25): GET and HEAD /metrics and nothing else, a failing scrape
// reported and answered 500, a port in use refused at start.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { serveMetrics } from '../src/observability/metrics-server';

const TEXT = { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'pm_up 1\n' };

interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** One request on its own connection (no keep-alive, so closing the server leaves nothing open). */
function request(port: number, method: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    // A listener that never answers fails the test here rather than hanging it.
    req.setTimeout(5_000, () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    req.end();
  });
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('serveMetrics', () => {
  const servers: http.Server[] = [];
  after(async () => {
    for (const s of servers) if (s.listening) await close(s);
  });

  async function start(text: () => Promise<{ contentType: string; body: string }>, onError: (err: unknown) => void = () => {}) {
    const started = await serveMetrics(0, '127.0.0.1', text, onError);
    servers.push(started.server);
    return started;
  }

  it('answers GET /metrics with the registry text and its content type, HEAD with the headers alone', async () => {
    let scrapes = 0;
    const { server, port } = await start(async () => {
      scrapes++;
      return TEXT;
    });
    assert.ok(port > 0);
    assert.equal(port, (server.address() as { port: number }).port);
    assert.deepEqual(await request(port, 'GET', '/metrics'), { status: 200, contentType: TEXT.contentType, body: TEXT.body });
    assert.deepEqual(await request(port, 'GET', '/metrics?name[]=pm_up'), { status: 200, contentType: TEXT.contentType, body: TEXT.body });
    assert.deepEqual(await request(port, 'HEAD', '/metrics'), { status: 200, contentType: TEXT.contentType, body: '' });
    assert.equal(scrapes, 3);
    assert.equal(server.listenerCount('error'), 0, 'the start-up error listener is removed once listening');
  });

  it('answers 404 to any other path or method, without scraping', async () => {
    let scrapes = 0;
    const { port } = await start(async () => {
      scrapes++;
      return TEXT;
    });
    const notFound = { status: 404, contentType: 'text/plain', body: 'Not found: only GET /metrics is served here\n' };
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/metricsx'],
      ['GET', '/graphql?x=/metrics'],
      ['POST', '/metrics'],
      ['PUT', '/metrics'],
      ['DELETE', '/metrics'],
    ]) {
      assert.deepEqual(await request(port, method, path), notFound, `${method} ${path}`);
    }
    assert.equal(scrapes, 0);
  });

  it('reports a failed scrape and answers 500', async () => {
    const failure = new Error('registry broke');
    const reported: unknown[] = [];
    const { port } = await start(
      () => Promise.reject(failure),
      (err) => reported.push(err),
    );
    assert.deepEqual(await request(port, 'GET', '/metrics'), { status: 500, contentType: 'text/plain', body: 'metrics unavailable\n' });
    assert.deepEqual(reported, [failure]);
  });

  it('rejects when the port is taken, listening nowhere', async () => {
    const { port } = await start(async () => TEXT);
    await assert.rejects(
      serveMetrics(
        port,
        '127.0.0.1',
        async () => TEXT,
        () => assert.fail('no scrape'),
      ),
      { code: 'EADDRINUSE' },
    );
  });
});
