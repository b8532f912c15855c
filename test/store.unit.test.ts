import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getGraphQLRateLimiter, InMemoryStore } from 'graphql-rate-limit';
import { MemoryRateLimitStore } from '../src/protection/store';

/**
 * Why src/protection reserves budget with its own atomic store instead of calling graphql-rate-limit's
 * limiter at run time: the library reads a client's history, decides, then writes it back, with awaits
 * between, so a concurrent burst is checked against a stale count. This test keeps that reason honest:
 * if a future graphql-rate-limit holds the limit under concurrency, the first assertion fails and the
 * library's limiter can come back.
 */
describe('graphql-rate-limit under a concurrent burst (why the store is our own)', () => {
  const burst = 200;
  const max = 10;

  it("lets more than the limit through with graphql-rate-limit's check-then-write", async () => {
    const limiter = getGraphQLRateLimiter({ identifyContext: (ctx: { id: string }) => ctx.id, store: new InMemoryStore() });
    const results = await Promise.all(
      Array.from({ length: burst }, () =>
        limiter({ parent: {}, args: {}, context: { id: 'client' }, info: { fieldName: 'predict' } as never }, { max, window: '15m' }),
      ),
    );
    const allowed = results.filter((r) => r === undefined).length;
    assert.ok(allowed > max, `graphql-rate-limit allowed ${allowed} of ${burst}`);
  });

  it('lets exactly the limit through with the atomic reserve', async () => {
    const store = new MemoryRateLimitStore(1000);
    const limits = { maxOps: max, maxRows: 1_000_000, windowMs: 15 * 60_000 };
    const results = await Promise.all(Array.from({ length: burst }, async () => store.reserve('client', { ops: 1, rows: 1 }, limits)));
    assert.equal(results.filter((d) => d.allowed).length, max);
  });
});
