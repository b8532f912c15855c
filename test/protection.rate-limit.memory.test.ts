import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryRateLimitStore } from '../src/protection/store';
import { NORMAL_READING, startServer, type TestServer } from './helpers/server';

const PREDICT = 'mutation($i: SensorReadingInput!) { predict(input: $i) { label } }';
const BATCH = 'mutation($rows: [SensorReadingInput!]!) { predictBatch(inputs: $rows) { label } }';
const RATE =
  '{ rateLimit { enabled store available identifiedBy limit used remaining rowsLimit rowsUsed rowsRemaining windowSeconds resetAt } }';
const rows = (n: number) => Array.from({ length: n }, () => NORMAL_READING);

describe('rate limit: in-memory store', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ RATE_LIMIT_MAX: '10', RATE_LIMIT_WINDOW: '15m', RATE_LIMIT_ROWS_MAX: '1000' });
  });
  after(() => s.close());

  it('200 simultaneous requests from one client against a limit of 10 let exactly 10 through', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => s.gql(PREDICT, { i: NORMAL_READING })));
    const passed = results.filter((r) => r.status === 200 && r.body.data?.predict);
    const limited = results.filter((r) => r.body.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    assert.equal(passed.length, 10);
    assert.equal(limited.length, 190);
    const r = limited[0];
    assert.equal(r.status, 429);
    const ext = r.body.errors![0].extensions!;
    assert.equal(ext.budget, 'operations');
    assert.equal(ext.limit, 10);
    assert.equal(ext.window, '15m');
    assert.equal(ext.windowSeconds, 900);
    assert.ok(ext.retryAfter >= 1 && ext.retryAfter <= 900, `retryAfter ${ext.retryAfter}`);
    assert.equal(r.headers.get('retry-after'), String(ext.retryAfter));
    assert.ok(!Number.isNaN(Date.parse(ext.resetAt)));
    assert.equal(ext.http, undefined, 'the http extension is not sent to clients');
  });

  it('rateLimit reports limit, remaining and reset time without spending; health is free too', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await s.gql(`${RATE.slice(0, -1)} health { status } }`);
      assert.equal(r.status, 200);
      const rl = r.body.data.rateLimit;
      assert.deepEqual(
        {
          enabled: rl.enabled,
          store: rl.store,
          available: rl.available,
          identifiedBy: rl.identifiedBy,
          limit: rl.limit,
          used: rl.used,
          remaining: rl.remaining,
          rowsUsed: rl.rowsUsed,
          rowsRemaining: rl.rowsRemaining,
          windowSeconds: rl.windowSeconds,
        },
        {
          enabled: true,
          store: 'memory',
          available: true,
          identifiedBy: 'ip',
          limit: 10,
          used: 10,
          remaining: 0,
          rowsUsed: 10,
          rowsRemaining: 990,
          windowSeconds: 900,
        },
      );
      const reset = Date.parse(rl.resetAt);
      assert.ok(reset > Date.now() && reset <= Date.now() + 900_000);
    }
  });

  it('counts an API key as its own client, separate from the IP', async () => {
    const headers = { 'x-api-key': 'client-a-secret' };
    const before = await s.gql(RATE, undefined, headers);
    assert.equal(before.body.data.rateLimit.identifiedBy, 'apiKey');
    assert.equal(before.body.data.rateLimit.used, 0);
    assert.equal(before.body.data.rateLimit.resetAt, null);
    const r = await s.gql(PREDICT, { i: NORMAL_READING }, headers);
    assert.ok(r.body.data.predict);
    const bearer = await s.gql(RATE, undefined, { authorization: 'Bearer client-a-secret' });
    assert.equal(bearer.body.data.rateLimit.used, 1, 'x-api-key and Bearer carry the same identity');
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY is set', async () => {
    const r = await s.gql(PREDICT, { i: NORMAL_READING }, { 'x-forwarded-for': '203.0.113.9' });
    assert.equal(r.body.errors?.[0]?.extensions?.code, 'RATE_LIMITED', 'a forged header does not buy a new budget');
  });
});

describe('rate limit: row budget', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ RATE_LIMIT_MAX: '100', RATE_LIMIT_ROWS_MAX: '250', MAX_BATCH_ROWS: '100' });
  });
  after(() => s.close());

  it('predictBatch spends one row per reading, so batches are no way around the limit', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await s.gql(BATCH, { rows: rows(100) });
      assert.equal(r.status, 200);
      assert.equal(r.body.data.predictBatch.length, 100);
    }
    const over = await s.gql(BATCH, { rows: rows(100) });
    assert.equal(over.status, 429);
    const ext = over.body.errors![0].extensions!;
    assert.equal(ext.code, 'RATE_LIMITED');
    assert.equal(ext.budget, 'rows');
    assert.equal(ext.limit, 250);
    const fits = await s.gql(BATCH, { rows: rows(50) });
    assert.equal(fits.body.data.predictBatch.length, 50, 'what still fits passes');
    const rl = (await s.gql(RATE)).body.data.rateLimit;
    assert.equal(rl.rowsUsed, 250);
    assert.equal(rl.rowsRemaining, 0);
    assert.equal(rl.used, 3, 'the refused batch spent nothing');
  });

  it('an oversized batch is refused by validation and spends no rows', async () => {
    const r = await s.gql(BATCH, { rows: rows(101) });
    assert.equal(r.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.equal((await s.gql(RATE)).body.data.rateLimit.rowsUsed, 250);
  });
});

describe('rate limit: concurrent batches and TRUST_PROXY', () => {
  it('concurrent batches cannot overspend the row budget', async () => {
    const s = await startServer({ RATE_LIMIT_MAX: '1000', RATE_LIMIT_ROWS_MAX: '500', MAX_BATCH_ROWS: '100' });
    try {
      const results = await Promise.all(Array.from({ length: 40 }, () => s.gql(BATCH, { rows: rows(30) })));
      const passed = results.filter((r) => r.body.data?.predictBatch).length;
      assert.equal(passed, 16, '16 x 30 = 480 <= 500 < 17 x 30');
      assert.equal((await s.gql(RATE)).body.data.rateLimit.rowsUsed, 480);
    } finally {
      await s.close();
    }
  });

  it('with TRUST_PROXY=1 the client is the address the one proxy appended; a forged leftmost entry buys nothing', async () => {
    const s = await startServer({ RATE_LIMIT_MAX: '1', TRUST_PROXY: '1' });
    try {
      const a = await s.gql(PREDICT, { i: NORMAL_READING }, { 'x-forwarded-for': '203.0.113.1' });
      // What a client behind an appending proxy controls is everything left of the proxy's own entry.
      const forged = await s.gql(PREDICT, { i: NORMAL_READING }, { 'x-forwarded-for': '10.9.9.7, 203.0.113.1' });
      const b = await s.gql(PREDICT, { i: NORMAL_READING }, { 'x-forwarded-for': '203.0.113.2' });
      assert.ok(a.body.data.predict);
      assert.equal(forged.body.errors?.[0]?.extensions?.code, 'RATE_LIMITED');
      assert.ok(b.body.data.predict, 'another client address has its own budget');
    } finally {
      await s.close();
    }
  });

  it('with TRUST_PROXY as an address list only listed proxies are believed', async () => {
    const s = await startServer({ RATE_LIMIT_MAX: '1', TRUST_PROXY: '127.0.0.1' });
    try {
      const a = await s.gql(PREDICT, { i: NORMAL_READING }, { 'x-forwarded-for': '203.0.113.1' });
      // 10.9.9.7 is not a listed proxy, so 203.0.113.1's forged prefix stops at it: same client as a.
      const forged = await s.gql(PREDICT, { i: NORMAL_READING }, { 'x-forwarded-for': '203.0.113.50, 203.0.113.1' });
      assert.ok(a.body.data.predict);
      assert.equal(forged.body.errors?.[0]?.extensions?.code, 'RATE_LIMITED');
    } finally {
      await s.close();
    }
  });
});

describe('rate limit: RATE_LIMIT_ENABLED=false', () => {
  it('switches limiting off and says so in rateLimit', async () => {
    const s = await startServer({ RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_MAX: '2' });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => s.gql(PREDICT, { i: NORMAL_READING })));
      assert.equal(results.filter((r) => r.body.data?.predict).length, 20);
      const rl = (await s.gql(RATE)).body.data.rateLimit;
      assert.equal(rl.enabled, false);
      assert.equal(rl.store, 'none');
      assert.ok(s.logs.lines.some((l) => l.msg === 'rate limiting is off (RATE_LIMIT_ENABLED=false)'));
    } finally {
      await s.close();
    }
  });
});

describe('MemoryRateLimitStore', () => {
  const limits = { maxOps: 3, maxRows: 10, windowMs: 1_000 };

  it('refuses without spending, and resets when the window ends', () => {
    let now = 0;
    const store = new MemoryRateLimitStore(100, () => now);
    for (let i = 0; i < 3; i++) assert.equal(store.reserve('a', { ops: 1, rows: 1 }, limits).allowed, true);
    const refused = store.reserve('a', { ops: 1, rows: 1 }, limits);
    assert.equal(refused.allowed, false);
    assert.equal(refused.exceeded, 'operations');
    assert.equal(refused.resetAt, 1_000);
    assert.deepEqual(store.peek('a'), { opsUsed: 3, rowsUsed: 3, resetAt: 1_000 });
    now = 1_000;
    assert.deepEqual(store.peek('a'), { opsUsed: 0, rowsUsed: 0, resetAt: undefined });
    const fresh = store.reserve('a', { ops: 1, rows: 1 }, limits);
    assert.equal(fresh.allowed, true);
    assert.equal(fresh.resetAt, 2_000);
  });

  it('evicts expired identities and never holds more than RATE_LIMIT_MEMORY_MAX_KEYS', () => {
    let now = 0;
    const store = new MemoryRateLimitStore(1_000, () => now);
    for (let i = 0; i < 5_000; i++) {
      store.reserve(`ip:${i}`, { ops: 1, rows: 1 }, limits);
      assert.ok(store.size <= 1_000);
    }
    assert.equal(store.evicted, 4_000);
    now = 500;
    for (let i = 0; i < 10; i++) store.reserve(`late:${i}`, { ops: 1, rows: 1 }, limits);
    now = 1_001; // every window opened at t=0 has ended
    store.reserve('x', { ops: 1, rows: 1 }, limits);
    assert.equal(store.size, 11, 'expired entries are dropped as soon as the store is used');
    now = 1_501;
    store.peek('nobody');
    store.reserve('y', { ops: 1, rows: 1 }, limits);
    assert.equal(store.size, 2);
  });

  it('a peek does not create an entry', () => {
    const store = new MemoryRateLimitStore(10);
    store.peek('ghost');
    assert.equal(store.size, 0);
  });
});
