import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { NORMAL_READING, startServer } from './helpers/server';
import { until } from './helpers/wait';

const BATCH = 'mutation($r: [SensorReadingInput!]!) { predictBatch(inputs: $r) { label probability } }';

interface Outcome {
  ok: number;
  busy: number;
  resets: number;
  refused: number;
  other: string[];
}

/**
 * One keep-alive client (its own agent, one socket) posting batches back to back until the server is gone.
 * Behind an ingress that keeps connections open, this is what a rolling deploy looks like to the server.
 */
async function client(
  url: string,
  stopAt: { stopped: boolean },
  out: Outcome,
  sawClose: { value: number },
  answered: number[],
  id: number,
): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const payload = JSON.stringify({ query: BATCH, variables: { r: Array.from({ length: 50 }, () => NORMAL_READING) } });
  try {
    for (;;) {
      const result = await new Promise<'ok' | 'busy' | 'reset' | 'refused' | string>((resolve) => {
        const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          if (res.headers.connection === 'close') sawClose.value++;
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : res.statusCode === 503 ? 'busy' : `status ${res.statusCode}`));
        });
        req.on('error', (err: NodeJS.ErrnoException) =>
          resolve(
            err.code === 'ECONNRESET' || /socket hang up/.test(err.message)
              ? 'reset'
              : err.code === 'ECONNREFUSED'
                ? 'refused'
                : String(err.code ?? err.message),
          ),
        );
        req.end(payload);
      });
      if (result === 'ok') {
        out.ok++;
        answered[id]++;
      } else if (result === 'busy') out.busy++;
      else if (result === 'reset') out.resets++;
      else if (result === 'refused') {
        out.refused++;
        return; // the listener is closed: this client would go to another replica now
      } else out.other.push(result);
      if (stopAt.stopped && result !== 'ok') return;
    }
  } finally {
    agent.destroy();
  }
}

describe('edge: graceful drain with keep-alive clients', () => {
  it('answers every request sent on an open connection during the drain; none is reset', async () => {
    const s = await startServer({ RATE_LIMIT_ENABLED: 'false', SHUTDOWN_TIMEOUT_MS: '5000', LOG_LEVEL: 'silent' });
    const out: Outcome = { ok: 0, busy: 0, resets: 0, refused: 0, other: [] };
    const stopAt = { stopped: false };
    const sawClose = { value: 0 };
    const answered = Array.from({ length: 32 }, () => 0);
    const clients = Array.from({ length: 32 }, (_, id) => client(s.url, stopAt, out, sawClose, answered, id));
    // Every client holds an open keep-alive connection (a connection still in the listener's accept queue
    // when it closes is refused by the kernel, as on any server; the preStop pause in deploy/ covers that).
    await until('every client answered at least once', () => answered.every((n) => n >= 1), { timeoutMs: 30_000 });
    const okBefore = out.ok;
    const stopping = s.app.stop();
    // The drain is a state of the model lifecycle: readiness is false while requests are still served.
    assert.equal(s.models.state.status, 'draining');
    assert.equal(s.models.ready, false);
    stopAt.stopped = true;
    await stopping;
    await Promise.all(clients);
    assert.equal(s.models.state.status, 'closing');
    assert.equal(out.resets, 0, `resets: ${JSON.stringify(out)}`);
    assert.deepEqual(out.other, []);
    assert.ok(out.ok > okBefore, 'requests sent after stop() began were answered');
    assert.ok(sawClose.value >= 1, 'drain answers carry Connection: close');
  });
});
