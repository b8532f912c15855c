// Cases the first mutation run of the Redis store showed no test held (docs/testing.md): which event marks
// the store down and with what reason, a store that comes up after starting unreachable, commands
// refused at once (never queued) while Redis is away, and ioredis printing nothing by itself.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { freePort } from '../bench/lib/net';
import { RedisRateLimitStore } from '../src/protection/redis-store';
import { RedisProcess, redisSkipReason } from './helpers/redis';
import { until } from './helpers/wait';

const skip = redisSkipReason();
const limits = { maxOps: 5, maxRows: 5, windowMs: 60_000 };

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
  return { lines, logger: pino({ level: 'info' }, sink) };
}

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
      await assert.rejects(store.reserve('a', { ops: 1, rows: 1 }, limits), /enableOfflineQueue/, 'refused at once, not queued');
      redis = await RedisProcess.start(port);
      await until('connected', () => lines.some((l) => l.msg !== 'rate limit store unavailable'), { timeoutMs: 20_000 });
      assert.deepEqual(
        lines.map((l) => [l.msg, l.reconnected]),
        [
          ['rate limit store unavailable', undefined],
          ['rate limit store connected', false],
        ],
      );
      assert.equal((await store.reserve('a', { ops: 1, rows: 1 }, limits)).allowed, true);
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
      await assert.rejects(store.peek('a', limits), /enableOfflineQueue/);
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
