// The route's side of the bulk lane: small requests are counted in flight from admission to their
// response, so a large body's parse and check steps wait behind them (src/http/bulk-lane.ts). The lane's
// own tests drive trackSmall by hand; here the count is read from inside a resolver, through the real
// route, so a route that stopped reporting its small requests would let large bodies go first unnoticed.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ApolloServer } from '@apollo/server';
import Fastify from 'fastify';
import pino from 'pino';
import { loadConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { BulkLane, LARGE_BODY_BYTES } from '../src/http/bulk-lane';
import type { Drain } from '../src/http/drain';
import { errorReply, toHttpError } from '../src/http/errors';
import { graphqlRoute } from '../src/http/graphql.plugin';
import { tracePlugin } from '../src/http/trace';
import type { ModelHost } from '../src/inference/model-host';
import { createProtection } from '../src/protection';

const silent = pino({ level: 'silent' });

async function route() {
  const config = loadConfig({ RATE_LIMIT_ENABLED: 'false', TRUSTED_DOCUMENTS: 'off' });
  const bulk = new BulkLane();
  const seen: number[] = [];
  const apollo = new ApolloServer<AppContext>({
    plugins: [tracePlugin()],
    typeDefs: 'type Query { smallInFlight(pad: String): Int }',
    resolvers: { Query: { smallInFlight: () => (seen.push(bulk.smallInFlight), bulk.smallInFlight) } },
  });
  await apollo.start();
  const app = Fastify();
  app.decorateRequest('edge', null);
  app.setErrorHandler((err, _request, reply) => errorReply(reply, toHttpError(err, config.limits.bodyLimitBytes)));
  await app.register(graphqlRoute, {
    config,
    models: {} as ModelHost,
    logger: silent,
    protection: createProtection(config, silent),
    apollo,
    bulk,
    drain: { phase: 'serving' } as unknown as Drain,
    metrics: undefined,
    trusted: undefined,
  });
  await app.ready();
  return { app, bulk, seen };
}

describe('graphqlRoute: small requests counted for the bulk lane', () => {
  const apps: Array<{ close(): Promise<unknown> }> = [];
  after(async () => {
    for (const app of apps) await app.close();
  });

  it('counts a small request in flight until its response closes, and a large one not at all', async () => {
    const r = await route();
    apps.push(r.app);
    const ask = (pad: string) =>
      r.app.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ query: 'query ($pad: String) { smallInFlight(pad: $pad) }', variables: { pad } }),
      });

    const small = await ask('');
    assert.equal(small.statusCode, 200);
    const large = await ask('x'.repeat(LARGE_BODY_BYTES));
    assert.equal(large.statusCode, 200);

    assert.deepEqual(r.seen, [1, 0], 'the small request counts itself while it runs; the large one does not count as small');
    assert.equal(r.bulk.smallInFlight, 0, 'nothing is left counted once both responses have closed');
  });
});
