import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisProcess, redisSkipReason } from './helpers/redis';
import { NORMAL_READING, startServer } from './helpers/server';
import { until } from './helpers/wait';

const PREDICT = 'mutation($i: SensorReadingInput!) { predict(input: $i) { label } }';
const RATE = '{ rateLimit { store available limit used remaining resetAt } }';

// In CI a missing redis-server throws here (the run fails with that message); locally the suite is skipped.
const skip = redisSkipReason();

describe('rate limit: Redis store', { skip }, () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await RedisProcess.start();
  });
  after(() => redis?.stop());

  it('two app instances sharing one Redis let exactly the limit through under 200 concurrent requests', async () => {
    const env = { RATE_LIMIT_REDIS_URL: redis.url, RATE_LIMIT_MAX: '10', RATE_LIMIT_REDIS_PREFIX: 'shared:' };
    const a = await startServer(env);
    const b = await startServer(env);
    try {
      await until('both connected', () => [a, b].every((s) => s.logs.lines.some((l) => l.msg === 'rate limit store connected')));
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).gql(PREDICT, { i: NORMAL_READING })));
      assert.equal(results.filter((r) => r.body.data?.predict).length, 10);
      const limited = results.filter((r) => r.body.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
      assert.equal(limited.length, 190);
      assert.equal(limited[0].status, 429);
      assert.equal(limited[0].body.errors![0].extensions!.limit, 10);
      // Each instance sees the shared spending, and reading it spends nothing.
      for (const s of [a, b, a]) {
        const rl = (await s.gql(RATE)).body.data.rateLimit;
        assert.equal(rl.store, 'redis');
        assert.equal(rl.used, 10);
        assert.equal(rl.remaining, 0);
        assert.ok(Date.parse(rl.resetAt) > Date.now());
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a separate server process shares the same budget', async () => {
    // Spawned as its own node process (a "replica"), through the compiled test helper.
    const { spawn } = await import('node:child_process');
    const path = await import('node:path');
    const env = { RATE_LIMIT_REDIS_URL: redis.url, RATE_LIMIT_MAX: '5', RATE_LIMIT_REDIS_PREFIX: 'replica:' };
    const local = await startServer(env);
    const script = `
      const { startServer, NORMAL_READING } = require(${JSON.stringify(path.join(__dirname, 'helpers', 'server.js'))});
      (async () => {
        const s = await startServer(${JSON.stringify(env)});
        const q = ${JSON.stringify(PREDICT)};
        const rs = await Promise.all(Array.from({ length: 20 }, () => s.gql(q, { i: NORMAL_READING })));
        process.stdout.write(JSON.stringify(rs.map((r) => r.body.data?.predict ? 'ok' : r.body.errors?.[0]?.extensions?.code)));
        await s.close();
      })();`;
    try {
      const child = spawn(process.execPath, ['-e', script], { env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
      const localRuns = Promise.all(Array.from({ length: 20 }, () => local.gql(PREDICT, { i: NORMAL_READING })));
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      await new Promise((resolve) => child.once('exit', resolve));
      const remote: string[] = JSON.parse(out);
      const mine = (await localRuns).map((r) => (r.body.data?.predict ? 'ok' : r.body.errors?.[0]?.extensions?.code));
      const all = [...remote, ...mine];
      assert.equal(all.filter((x) => x === 'ok').length, 5, JSON.stringify(all));
      assert.equal(all.filter((x) => x === 'RATE_LIMITED').length, 35);
    } finally {
      await local.close();
    }
  });

  it('fail open: serves while Redis is down, logs it, and limits again when Redis returns', async () => {
    const s = await startServer({
      RATE_LIMIT_REDIS_URL: redis.url,
      RATE_LIMIT_MAX: '3',
      RATE_LIMIT_FAIL_MODE: 'open',
      RATE_LIMIT_REDIS_PREFIX: 'open:',
    });
    try {
      await until('connected', () => s.logs.lines.some((l) => l.msg === 'rate limit store connected'));
      for (let i = 0; i < 3; i++) assert.ok((await s.gql(PREDICT, { i: NORMAL_READING })).body.data.predict);
      assert.equal((await s.gql(PREDICT, { i: NORMAL_READING })).status, 429);

      await redis.stop();
      await until('outage logged', () => s.logs.lines.some((l) => l.msg === 'rate limit store unavailable' && l.level === 'error'));
      for (let i = 0; i < 5; i++) {
        const r = await s.gql(PREDICT, { i: NORMAL_READING });
        assert.equal(r.status, 200, 'fail open: predictions are served without a limit');
        assert.ok(r.body.data.predict);
      }
      assert.ok(s.logs.lines.some((l) => l.msg === 'rate limit store failed; failing open' && l.failMode === 'open'));
      const rl = (await s.gql(RATE)).body.data.rateLimit;
      assert.equal(rl.available, false);
      assert.equal((await s.gql('{ health { status } }')).body.data.health.status, 'READY');

      await redis.start(); // same port, empty (no persistence): a fresh window
      await until('reconnected', () => s.logs.lines.some((l) => l.msg === 'rate limit store reconnected'));
      const after = [];
      for (let i = 0; i < 4; i++) after.push(await s.gql(PREDICT, { i: NORMAL_READING }));
      assert.deepEqual(
        after.map((r) => r.status),
        [200, 200, 200, 429],
        'the limit holds again',
      );
      assert.equal((await s.gql(RATE)).body.data.rateLimit.used, 3);
    } finally {
      await s.close();
    }
  });

  it('fail closed: refuses counted calls with RATE_LIMITED while Redis is down; free queries still work', async () => {
    const s = await startServer({
      RATE_LIMIT_REDIS_URL: redis.url,
      RATE_LIMIT_MAX: '3',
      RATE_LIMIT_FAIL_MODE: 'closed',
      RATE_LIMIT_REDIS_PREFIX: 'closed:',
    });
    try {
      await until('connected', () => s.logs.lines.some((l) => l.msg === 'rate limit store connected'));
      assert.ok((await s.gql(PREDICT, { i: NORMAL_READING })).body.data.predict);
      await redis.stop();
      await until('outage logged', () => s.logs.lines.some((l) => l.msg === 'rate limit store unavailable'));
      const r = await s.gql(PREDICT, { i: NORMAL_READING });
      assert.equal(r.status, 503);
      assert.equal(r.body.errors?.[0]?.extensions?.code, 'RATE_LIMITED');
      assert.equal(r.body.errors?.[0]?.extensions?.reason, 'STORE_UNAVAILABLE');
      assert.equal(r.headers.get('retry-after'), '1');
      assert.ok(s.logs.lines.some((l) => l.msg === 'rate limit store failed; failing closed'));
      assert.equal((await s.gql('{ health { status } }')).status, 200);
      await redis.start();
      await until('reconnected', () => s.logs.lines.some((l) => l.msg === 'rate limit store reconnected'));
      assert.ok((await s.gql(PREDICT, { i: NORMAL_READING })).body.data.predict);
    } finally {
      await s.close();
    }
  });

  it('fail memory (the default): limits per process while Redis is down, under traffic, and returns to Redis when it is back', async () => {
    const s = await startServer({ RATE_LIMIT_REDIS_URL: redis.url, RATE_LIMIT_MAX: '5', RATE_LIMIT_REDIS_PREFIX: 'memory:' });
    try {
      assert.equal(s.config.protection.rateLimit.failMode, 'memory');
      await until('connected', () => s.logs.lines.some((l) => l.msg === 'rate limit store connected'));
      const traffic = { stop: false, statuses: [] as number[] };
      const background = (async () => {
        while (!traffic.stop) traffic.statuses.push((await s.gql('{ health { status } }', undefined, { 'x-api-key': 'bystander' })).status);
      })();
      for (let i = 0; i < 2; i++) assert.ok((await s.gql(PREDICT, { i: NORMAL_READING })).body.data.predict);

      await redis.stop();
      await until('outage logged', () => s.logs.lines.some((l) => l.msg === 'rate limit store unavailable'));
      // The in-memory fallback starts its own window: 5 pass, the 6th is refused, in this process.
      const during = [];
      for (let i = 0; i < 6; i++) during.push(await s.gql(PREDICT, { i: NORMAL_READING }));
      assert.deepEqual(
        during.map((r) => r.status),
        [200, 200, 200, 200, 200, 429],
        'still limited while Redis is down',
      );
      assert.ok(s.logs.lines.some((l) => l.failMode === 'memory' && /in memory/.test(String(l.msg))));
      const rl = (await s.gql(RATE)).body.data.rateLimit;
      assert.deepEqual({ available: rl.available, used: rl.used }, { available: false, used: 5 });

      await redis.start(); // same port, empty: Redis's own fresh window
      await until('reconnected', () => s.logs.lines.some((l) => l.msg === 'rate limit store reconnected'));
      const after = [];
      for (let i = 0; i < 6; i++) after.push(await s.gql(PREDICT, { i: NORMAL_READING }));
      assert.deepEqual(
        after.map((r) => r.status),
        [200, 200, 200, 200, 200, 429],
        'back on Redis',
      );
      assert.deepEqual(
        { store: (await s.gql(RATE)).body.data.rateLimit.store, available: (await s.gql(RATE)).body.data.rateLimit.available },
        { store: 'redis', available: true },
      );
      traffic.stop = true;
      await background;
      assert.ok(traffic.statuses.length > 0 && traffic.statuses.every((st) => st === 200), 'free traffic was served throughout');
    } finally {
      await s.close();
    }
  });

  it('starts and serves when Redis is not there at all (fail open), and never logs the Redis URL', async () => {
    const s = await startServer({
      RATE_LIMIT_REDIS_URL: 'redis://:s3cret-pass@127.0.0.1:1',
      RATE_LIMIT_MAX: '1',
      RATE_LIMIT_FAIL_MODE: 'open',
    });
    try {
      await until('outage logged', () => s.logs.lines.some((l) => l.msg === 'rate limit store unavailable'));
      assert.ok((await s.gql(PREDICT, { i: NORMAL_READING })).body.data.predict);
      assert.ok((await s.gql(PREDICT, { i: NORMAL_READING })).body.data.predict);
      assert.ok(!s.logs.raw.some((l) => l.includes('s3cret-pass')));
    } finally {
      await s.close();
    }
  });
});
