import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attackDocument, underAttack } from '../bench/edge';
import { startServer } from './helpers/server';

describe('edge: under attack', () => {
  it('two clients sending the largest documents the body limit allows do not starve a third client', async () => {
    // Production defaults (body limit 1 MiB, MAX_QUERY_TOKENS 25,000, query limits) but budgets no client
    // reaches: the worst case, where only the bounded cost of a refused document protects the third client.
    const s = await startServer({
      NODE_ENV: 'production',
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
      // The floor the issue sets: the third client's p99 under 5x its unloaded p99, or under 25 ms.
      assert.ok(r.met, `victim p99 ${r.victimAttacked.p99} ms attacked vs ${r.victimUnloaded.p99} ms unloaded`);
    } finally {
      await s.close();
    }
  });
});
