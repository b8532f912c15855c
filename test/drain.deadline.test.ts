// The drain's deadlines on the real clock. lifecycle.unit.test.ts walks the phases on node:test's mock
// timers, where a drain that waits longer than it should never resolves and the test hangs instead of
// failing: here every wait is bounded by a test timeout, so an operator's SHUTDOWN_TIMEOUT_MS plus the one
// last second is what a stop takes, and a drain that overstays fails by name.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { Drain } from '../src/http/drain';
import { until } from './helpers/wait';

describe('Drain: how long a stop takes with a request that never ends', () => {
  const servers: http.Server[] = [];
  after(() => servers.forEach((s) => s.closeAllConnections()));

  /** A server that never answers: every request stays in flight until the drain closes its socket. */
  async function parkingServer() {
    const parked: http.ServerResponse[] = [];
    const s = http.createServer((_req, res) => parked.push(res));
    servers.push(s);
    const drain = new Drain(s);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return { drain, port: (s.address() as net.AddressInfo).port, parked };
  }

  it('closes a busy connection one second after the shutdown timeout, not later', { timeout: 6_000 }, async () => {
    const { drain, port, parked } = await parkingServer();
    const busy = net.connect(port, '127.0.0.1');
    busy.on('error', () => undefined);
    let closedAt = 0;
    busy.on('close', () => (closedAt = Date.now()));
    busy.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('the request to arrive', () => parked.length === 1, { timeoutMs: 2_000, everyMs: 5 });

    const started = Date.now();
    await drain.stop(100);
    const took = Date.now() - started;
    await until('the busy connection to close', () => closedAt > 0, { timeoutMs: 1_000, everyMs: 5 });

    assert.equal(drain.phase, 'closing');
    // 100 ms of draining, then the last second for the request in flight; generous above for a busy machine.
    assert.ok(took >= 1_000, `stopped after ${took} ms: the request in flight did not get its last second`);
    assert.ok(took < 2_500, `stopped after ${took} ms: the last second overstayed`);
    assert.ok(closedAt - started < 2_500, 'the busy connection is closed when the stop ends');
  });
});
