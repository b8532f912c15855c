// RedisRateLimitStore against a real redis-server: the Lua script's fixed window, its limits and
// refusals, peek, stray keys, and the connection-state log lines.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import pino from 'pino';
import { freePort } from '../bench/lib/net';
import { RedisRateLimitStore } from '../src/protection/redis-store';
import { RedisProcess, redisSkipReason } from './helpers/redis';
import { until } from './helpers/wait';

const skip = redisSkipReason();
const transitionLimits = { maxOps: 5, maxRows: 5, windowMs: 60_000 };

function capture() {
  const lines: Array<Record<string, any>> = [];
  const sink = new Writable({
    write: (c, _e, cb) => (
      String(c)
        .split('\n')
        .filter(Boolean)
        .forEach((l) => lines.push(JSON.parse(l))),
      cb()
    ),
  });
  return { lines, logger: pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, sink) };
}

describe('RedisRateLimitStore', { skip }, () => {
  let redis: RedisProcess;
  let admin: Redis;
  let store: RedisRateLimitStore;
  let logs: ReturnType<typeof capture>;
  let n = 0;
  /** A client id no other test uses. */
  const client = () => `c${++n}`;

  before(async () => {
    redis = await RedisProcess.start();
    admin = new Redis(redis.url);
    logs = capture();
    store = new RedisRateLimitStore(redis.url, 'test:', logs.logger);
    await until('connected', () => logs.lines.some((l) => l.msg === 'rate limit store connected'));
  });
  after(async () => {
    await store?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  it('logs the first connection once, without "reconnected"', () => {
    const connected = logs.lines.filter((l) => l.msg === 'rate limit store connected');
    assert.equal(connected.length, 1);
    assert.deepEqual(
      { level: connected[0].level, store: connected[0].store, reconnected: connected[0].reconnected },
      { level: 'info', store: 'redis', reconnected: false },
    );
    assert.equal(store.kind, 'redis');
  });

  it('spends within the limits, exactly up to them, and stores the spending under prefix + client id', async () => {
    const id = client();
    const limits = { maxOps: 3, maxRows: 10, windowMs: 60_000 };
    const t0 = Date.now();
    const first = await store.reserve(id, { ops: 1, rows: 4 }, limits);
    assert.deepEqual({ ...first, resetAt: undefined }, { allowed: true, opsUsed: 1, rowsUsed: 4, resetAt: undefined });
    assert.ok(!('exceeded' in first));
    assert.ok(first.resetAt! >= t0 + 59_000 && first.resetAt! <= Date.now() + 60_000, `resetAt ${first.resetAt}`);
    assert.deepEqual(await admin.hgetall(`test:${id}`), { ops: '1', rows: '4' });
    const atRows = await store.reserve(id, { ops: 1, rows: 6 }, limits);
    assert.deepEqual([atRows.allowed, atRows.opsUsed, atRows.rowsUsed], [true, 2, 10], 'rows exactly at the limit');
    const atOps = await store.reserve(id, { ops: 1, rows: 0 }, limits);
    assert.deepEqual([atOps.allowed, atOps.opsUsed, atOps.rowsUsed], [true, 3, 10], 'ops exactly at the limit');
  });

  it('refuses without spending and names the budget; operations are checked first', async () => {
    const id = client();
    const limits = { maxOps: 2, maxRows: 5, windowMs: 60_000 };
    await store.reserve(id, { ops: 1, rows: 5 }, limits);
    const rows = await store.reserve(id, { ops: 1, rows: 1 }, limits);
    assert.deepEqual({ ...rows, resetAt: undefined }, { allowed: false, exceeded: 'rows', opsUsed: 1, rowsUsed: 5, resetAt: undefined });
    await store.reserve(id, { ops: 1, rows: 0 }, limits);
    const ops = await store.reserve(id, { ops: 1, rows: 1 }, limits);
    assert.deepEqual(
      { ...ops, resetAt: undefined },
      { allowed: false, exceeded: 'operations', opsUsed: 2, rowsUsed: 5, resetAt: undefined },
    );
    assert.deepEqual(await admin.hgetall(`test:${id}`), { ops: '2', rows: '5' }, 'refusals spent nothing');
    assert.ok(ops.resetAt! > Date.now() + 55_000);
  });

  it('a refused first call opens no window', async () => {
    const id = client();
    const d = await store.reserve(id, { ops: 1, rows: 11 }, { maxOps: 5, maxRows: 10, windowMs: 30_000 });
    assert.equal(d.allowed, false);
    assert.equal(d.exceeded, 'rows');
    assert.ok(Math.abs(d.resetAt! - (Date.now() + 30_000)) < 2_000, 'no window yet: a whole window from now');
    assert.equal(await admin.exists(`test:${id}`), 0);
  });

  it('the window is FIXED: later calls do not extend it', async () => {
    const id = client();
    const limits = { maxOps: 100, maxRows: 100, windowMs: 3_000 };
    const first = await store.reserve(id, { ops: 1, rows: 1 }, limits);
    await sleep(600);
    const second = await store.reserve(id, { ops: 1, rows: 1 }, limits);
    const pttl = await admin.pttl(`test:${id}`);
    assert.ok(pttl > 0 && pttl <= 2_450, `the window lost the time that passed (PTTL ${pttl} ms)`);
    assert.ok(Math.abs(second.resetAt! - first.resetAt!) < 300, `resetAt moved from ${first.resetAt} to ${second.resetAt}`);
    const usage = await store.peek(id, limits);
    assert.ok(Math.abs(usage.resetAt! - first.resetAt!) < 300);
  });

  it('a new window starts when the old one has expired', async () => {
    const id = client();
    const limits = { maxOps: 1, maxRows: 10, windowMs: 1_000 };
    assert.equal((await store.reserve(id, { ops: 1, rows: 1 }, limits)).allowed, true);
    assert.equal((await store.reserve(id, { ops: 1, rows: 1 }, limits)).allowed, false);
    await until('window expired', async () => (await admin.exists(`test:${id}`)) === 0, { timeoutMs: 5_000, everyMs: 100 });
    const fresh = await store.reserve(id, { ops: 1, rows: 1 }, limits);
    assert.deepEqual([fresh.allowed, fresh.opsUsed, fresh.rowsUsed], [true, 1, 1]);
  });

  it('peek reads without spending or creating anything', async () => {
    const id = client();
    const limits = { maxOps: 5, maxRows: 5, windowMs: 60_000 };
    assert.deepEqual(await store.peek(id, limits), { opsUsed: 0, rowsUsed: 0, resetAt: undefined });
    assert.equal(await admin.exists(`test:${id}`), 0);
    await store.reserve(id, { ops: 1, rows: 2 }, limits);
    const usage = await store.peek(id, limits);
    assert.deepEqual({ ...usage, resetAt: undefined }, { opsUsed: 1, rowsUsed: 2, resetAt: undefined });
    assert.ok(usage.resetAt! > Date.now() + 55_000 && usage.resetAt! <= Date.now() + 60_000);
    await store.peek(id, limits);
    assert.deepEqual(await admin.hgetall(`test:${id}`), { ops: '1', rows: '2' });
  });

  it('a stray key without expiry is replaced by a fresh window, not trusted forever', async () => {
    const id = client();
    await admin.hset(`test:${id}`, 'ops', '99', 'rows', '99');
    const d = await store.reserve(id, { ops: 1, rows: 1 }, { maxOps: 5, maxRows: 5, windowMs: 60_000 });
    assert.deepEqual([d.allowed, d.opsUsed, d.rowsUsed], [true, 1, 1]);
    const pttl = await admin.pttl(`test:${id}`);
    assert.ok(pttl > 55_000 && pttl <= 60_000, `PTTL ${pttl}`);
    const other = client();
    await admin.hset(`test:${other}`, 'ops', '3', 'rows', '3');
    assert.deepEqual(await store.peek(other, { maxOps: 5, maxRows: 5, windowMs: 60_000 }), { opsUsed: 0, rowsUsed: 0, resetAt: undefined });
  });

  it('a window key missing a field counts that field as 0', async () => {
    const id = client();
    await admin.hset(`test:${id}`, 'ops', '2');
    await admin.pexpire(`test:${id}`, 60_000);
    const d = await store.reserve(id, { ops: 1, rows: 4 }, { maxOps: 5, maxRows: 5, windowMs: 60_000 });
    assert.deepEqual([d.allowed, d.opsUsed, d.rowsUsed], [true, 3, 4]);
  });

  it('fails fast while Redis is away, logs the loss once, and logs the reconnection', async () => {
    const id = client();
    await redis.stop();
    await until('loss logged', () => logs.lines.some((l) => l.msg === 'rate limit store unavailable'));
    const started = Date.now();
    await assert.rejects(store.reserve(id, { ops: 1, rows: 1 }, { maxOps: 5, maxRows: 5, windowMs: 1_000 }));
    await assert.rejects(store.peek(id, { maxOps: 5, maxRows: 5, windowMs: 1_000 }));
    assert.ok(Date.now() - started < 2_500, `took ${Date.now() - started} ms`);
    await sleep(500); // several failed reconnects
    const lost = logs.lines.filter((l) => l.msg === 'rate limit store unavailable');
    assert.equal(lost.length, 1, 'one line per outage, not one per reconnect attempt');
    assert.equal(lost[0].level, 'error');
    assert.equal(lost[0].store, 'redis');
    assert.equal(typeof lost[0].reason, 'string');
    await redis.start();
    await until('reconnected', () => logs.lines.some((l) => l.msg === 'rate limit store reconnected'));
    const back = logs.lines.filter((l) => l.msg === 'rate limit store reconnected');
    assert.equal(back.length, 1);
    assert.deepEqual({ level: back[0].level, reconnected: back[0].reconnected }, { level: 'info', reconnected: true });
    admin.disconnect();
    admin = new Redis(redis.url);
    const d = await store.reserve(id, { ops: 1, rows: 1 }, { maxOps: 5, maxRows: 5, windowMs: 60_000 });
    assert.equal(d.allowed, true, 'the script is loaded again into the restarted Redis');
  });

  it('never connected: one "unavailable" line, no URL in it; our own close logs nothing', async () => {
    const { lines, logger } = capture();
    const dead = new RedisRateLimitStore('redis://:pw-123@127.0.0.1:1', 'x:', logger);
    await until('failure logged', () => lines.length > 0);
    await sleep(400);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['rate limit store unavailable'],
    );
    assert.ok(!JSON.stringify(lines).includes('pw-123'));
    await dead.close();

    const own = capture();
    const live = new RedisRateLimitStore(redis.url, 'y:', own.logger);
    await until('connected', () => own.lines.length > 0);
    await live.close();
    await sleep(200);
    assert.deepEqual(
      own.lines.map((l) => l.msg),
      ['rate limit store connected'],
    );
  });
});

// Which event marks the store down and with what reason, a store that comes up after starting unreachable,
// commands refused at once (never queued) while Redis is away, and ioredis printing nothing by itself.
describe('RedisRateLimitStore transitions', { skip }, () => {
  const printed: string[] = [];
  const consoleError = console.error;
  before(() => {
    console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
  });
  after(() => {
    console.error = consoleError;
  });

  it('unreachable at start: the refusal is the reason, and coming up later is a first connection', async () => {
    const port = await freePort();
    const { lines, logger } = capture();
    const store = new RedisRateLimitStore(`redis://127.0.0.1:${port}`, 't:', logger);
    let redis: RedisProcess | undefined;
    try {
      await until('failure logged', () => lines.length > 0);
      assert.equal(lines[0].msg, 'rate limit store unavailable');
      assert.match(lines[0].reason, /ECONNREFUSED/, 'the connection error itself, not a generic "closed"');
      await assert.rejects(store.reserve('a', { ops: 1, rows: 1 }, transitionLimits), /enableOfflineQueue/, 'refused at once, not queued');
      redis = await RedisProcess.start(port);
      await until('connected', () => lines.some((l) => l.msg !== 'rate limit store unavailable'), { timeoutMs: 20_000 });
      assert.deepEqual(
        lines.map((l) => [l.msg, l.reconnected]),
        [
          ['rate limit store unavailable', undefined],
          ['rate limit store connected', false],
        ],
      );
      assert.equal((await store.reserve('a', { ops: 1, rows: 1 }, transitionLimits)).allowed, true);
    } finally {
      await store.close();
      await redis?.stop();
    }
    assert.deepEqual(
      printed.filter((p) => p.includes('ioredis')),
      [],
      'ioredis printed errors itself',
    );
  });

  it('a lost connection is reported as closed, and commands are refused at once', async () => {
    const redis = await RedisProcess.start();
    const { lines, logger } = capture();
    const store = new RedisRateLimitStore(redis.url, 't:', logger);
    try {
      await until('connected', () => lines.length > 0);
      await redis.stop();
      await until('loss logged', () => lines.length > 1);
      assert.deepEqual([lines[1].msg, lines[1].reason], ['rate limit store unavailable', 'connection closed']);
      await assert.rejects(store.peek('a', transitionLimits), /enableOfflineQueue/);
    } finally {
      await store.close();
      await redis.stop();
    }
    assert.deepEqual(
      printed.filter((p) => p.includes('ioredis')),
      [],
    );
  });
});
