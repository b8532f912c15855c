import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NginxProxy, nginxSkipReason } from './helpers/nginx';
import { NORMAL_READING, startServer, type TestServer } from './helpers/server';

const PREDICT = 'mutation($i: SensorReadingInput!) { predict(input: $i) { label } }';
const skip = nginxSkipReason();

describe('client identity behind a real proxy (nginx appending X-Forwarded-For, TRUST_PROXY=1)', { skip }, () => {
  let s: TestServer;
  let proxy: NginxProxy;
  before(async () => {
    s = await startServer({ TRUST_PROXY: '1', RATE_LIMIT_MAX: '3' });
    proxy = await NginxProxy.start([s.port]);
  });
  after(async () => {
    await proxy?.stop();
    await s?.close();
  });

  const predict = (forwardedFor?: string) =>
    fetch(`${proxy.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
      body: JSON.stringify({ query: PREDICT, variables: { i: NORMAL_READING } }),
    }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as { data?: { predict?: unknown }; errors?: Array<{ extensions: { code: string } }> },
    }));

  it('a client forging X-Forwarded-For gets no fresh budget: seven forged identities share one limit of 3', async () => {
    const results = [];
    for (let n = 1; n <= 7; n++) results.push(await predict(`10.9.9.${n}, 127.0.0.${n}`));
    assert.equal(results.filter((r) => r.body.data?.predict).length, 3);
    assert.equal(results.filter((r) => r.status === 429).length, 4);
    // Without a forged header the same client is still out of budget: it is counted as the proxy's peer.
    assert.equal((await predict()).status, 429);
    const rl = await fetch(`${proxy.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.1' },
      body: JSON.stringify({ query: '{ rateLimit { used remaining identifiedBy } }' }),
    }).then((r) => r.json() as Promise<{ data: { rateLimit: { used: number; remaining: number } } }>);
    assert.deepEqual(rl.data.rateLimit, { used: 3, remaining: 0, identifiedBy: 'ip' });
  });
});
