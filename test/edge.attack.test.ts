import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { attackDocument, underAttack } from '../bench/scenarios/edge';
import { metricValue, scrape } from './helpers/metrics';
import { rawPost, rawRequest } from './helpers/raw-http';
import { startServer } from './helpers/server';
import { until } from './helpers/wait';

describe('edge: under attack', () => {
  it('two clients sending the largest documents the body limit allows do not starve a third client', async (t) => {
    // Production defaults (body limit 1 MiB, MAX_QUERY_TOKENS 25,000, query limits) but budgets no client
    // reaches: the worst case, where only the bounded cost of a refused document protects the third client.
    const s = await startServer({
      NODE_ENV: 'production',
      // Free text, as the attack sends it (TRUSTED_DOCUMENTS=require: test/trusted-documents.http.test.ts).
      TRUSTED_DOCUMENTS: 'allow',
      LOG_LEVEL: 'silent',
      REQUEST_LIMIT_MAX: '100000000',
      RATE_LIMIT_MAX: '100000000',
      RATE_LIMIT_ROWS_MAX: '100000000',
    });
    try {
      const doc = attackDocument(s.config.limits.bodyLimitBytes);
      assert.ok(doc.length > 0.99 * s.config.limits.bodyLimitBytes && doc.length <= s.config.limits.bodyLimitBytes);
      const r = await underAttack(s.port, s.config.limits.bodyLimitBytes, 3);
      // Every attacking document was refused by the token limit, before graphql-js's validation.
      assert.ok(r.attackers.requests > 10);
      assert.deepEqual(Object.keys(r.attackers.byStatus), ['400 QUERY_TOO_COMPLEX']);
      // The third client was served throughout: underAttack throws on any answer but 200.
      assert.ok(r.victimAttacked.requests > 10, `victim served ${r.victimAttacked.requests} requests while attacked`);
      // The latency floor (p99 under 5x unloaded, or under 25 ms) is a speed figure: measured and reported by
      // the bench's edge scenario (docs/benchmarks.md), not asserted here, where one slow turn of a shared
      // 2-core machine decides a p99 of three seconds (27.8 ms against 25 ms failed a fresh-clone CI run).
      t.diagnostic(
        `victim p99 ${r.victimAttacked.p99} ms attacked vs ${r.victimUnloaded.p99} ms unloaded (floor ${r.met ? 'met' : 'not met'})`,
      );
    } finally {
      await s.close();
    }
  });
});

describe('edge: large bodies in flight (LARGE_BODIES_MAX_BYTES)', () => {
  it('refuses a large body past the budget with 503 before reading it, lets small ones through, and frees the budget when a body is answered', async () => {
    const s = await startServer({ RATE_LIMIT_ENABLED: 'false', BODY_LIMIT_BYTES: '100000', LARGE_BODIES_MAX_BYTES: '200000' });
    const body = Buffer.from(JSON.stringify({ query: `{ health { status } } #${'x'.repeat(99_000)}` }));
    // Two clients announce 100 KB bodies and stall halfway: together they hold the whole budget.
    const stalled = [0, 1].map(() => {
      const socket = net.connect(s.port, '127.0.0.1');
      socket.on('error', () => undefined);
      const head = rawPost(body).subarray(0, rawPost(body).length - body.length);
      socket.write(Buffer.concat([head, body.subarray(0, 50_000)]));
      return socket;
    });
    try {
      await until('both stalled bodies admitted', () => s.app.largeBodiesInFlight === 2 * body.length);
      const refused = await rawRequest(s.port, [rawPost(body)]);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '1');
      assert.deepEqual(
        { code: refused.json.errors[0].extensions.code, limit: refused.json.errors[0].extensions.limit },
        { code: 'SERVER_BUSY', limit: 200_000 },
      );
      assert.match(refused.json.errors[0].message, /LARGE_BODIES_MAX_BYTES/);
      // An operator sees both in /metrics.
      const metrics = await scrape(s.origin);
      assert.equal(metricValue(metrics, 'pm_http_large_body_bytes'), 2 * body.length);
      assert.equal(metricValue(metrics, 'pm_http_large_body_refusals_total'), 1);
      // A small request is not a large body: it is answered at once.
      const small = await s.gql('{ health { status } }');
      assert.equal(small.status, 200);
      // One stalled client finishes its body: it is answered, and its bytes go back to the budget.
      stalled[0].end(body.subarray(50_000));
      await until('the finished body released', () => s.app.largeBodiesInFlight === body.length);
      const admitted = await rawRequest(s.port, [rawPost(body)]);
      assert.equal(admitted.status, 200, admitted.body);
      // A client that goes away mid-body gives its bytes back too.
      stalled[1].destroy();
      await until('the abandoned body released', () => s.app.largeBodiesInFlight === 0);
    } finally {
      for (const socket of stalled) socket.destroy();
      await s.close();
    }
  });
});
