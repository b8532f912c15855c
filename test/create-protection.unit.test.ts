import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { GraphQLServerContext, GraphQLServerListener } from '@apollo/server';
import pino from 'pino';
import { loadConfig } from '../src/config';
import { HttpError } from '../src/errors';
import { createProtection, RateLimiter } from '../src/protection';
import { knownOperationTypes } from '../src/protection/query-limits';

// What the composition root gets for each protection setting: a limiter (and the middleware and Apollo
// plugin that use and close it) only when rate limiting is on, an API-key guard only when keys are
// required (admin keys then count as keys), the static query limits from the config.

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) });
  return { lines, logger: pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, sink) };
}

function setup(env: Record<string, string>) {
  const { lines, logger } = captureLogger();
  const protection = createProtection(loadConfig({ NODE_ENV: 'test', ...env }), logger);
  return { protection, lines };
}

function refusal(guard: (identity: { clientId: string; apiKeyHash: string | undefined }) => void, apiKeyHash?: string) {
  try {
    guard({ clientId: 'ip:127.0.0.1', apiKeyHash });
  } catch (err) {
    assert.ok(err instanceof HttpError);
    return [err.status, err.code];
  }
  return undefined;
}

describe('createProtection: rate limiting', () => {
  it('off: no limiter, middleware or plugin, and one warning', () => {
    const { protection, lines } = setup({ RATE_LIMIT_ENABLED: 'false' });
    assert.equal(protection.limiter, undefined);
    assert.deepEqual(protection.globalMiddlewares, []);
    assert.deepEqual(protection.plugins, []);
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [['warn', 'rate limiting is off (RATE_LIMIT_ENABLED=false)']],
    );
  });

  it("on: a limiter, its middleware, and a plugin that closes the limiter's store when Apollo stops", async () => {
    const { protection, lines } = setup({ RATE_LIMIT_ENABLED: 'true' });
    const limiter = protection.limiter;
    assert.ok(limiter instanceof RateLimiter);
    assert.equal(lines.length, 0, 'no warning');
    assert.equal(protection.globalMiddlewares.length, 1);
    assert.equal(typeof protection.globalMiddlewares[0], 'function');
    assert.equal(protection.plugins.length, 1);
    let closed = 0;
    const close = limiter.close.bind(limiter);
    limiter.close = async () => {
      closed++;
      await close();
    };
    const listener = (await protection.plugins[0].serverWillStart!({} as GraphQLServerContext)) as GraphQLServerListener;
    assert.equal(closed, 0, 'nothing closes at start');
    await listener.serverWillStop!();
    assert.equal(closed, 1);
  });
});

describe('createProtection: API keys', () => {
  const user = hash('user-key');
  const admin = hash('admin-key');

  it('requires no key when no API keys are configured, admin keys or not', () => {
    assert.equal(setup({ RATE_LIMIT_ENABLED: 'false' }).protection.guard, undefined);
    assert.equal(setup({ RATE_LIMIT_ENABLED: 'false', ADMIN_API_KEYS: admin }).protection.guard, undefined);
  });

  it('with keys required, accepts API keys and admin keys and refuses anything else with 401', () => {
    const { guard } = setup({ RATE_LIMIT_ENABLED: 'false', API_KEYS: user, ADMIN_API_KEYS: admin }).protection;
    assert.ok(guard);
    assert.equal(refusal(guard, user), undefined);
    assert.equal(refusal(guard, admin), undefined);
    assert.deepEqual(refusal(guard, hash('other')), [401, 'UNAUTHENTICATED']);
    assert.deepEqual(refusal(guard, undefined), [401, 'UNAUTHENTICATED']);
  });

  it('with only API keys, accepts those alone', () => {
    const { guard } = setup({ RATE_LIMIT_ENABLED: 'false', API_KEYS: user }).protection;
    assert.ok(guard);
    assert.equal(refusal(guard, user), undefined);
    assert.deepEqual(refusal(guard, admin), [401, 'UNAUTHENTICATED']);
  });
});

describe('createProtection: query limits', () => {
  it('checks documents against the configured limits and validates with the known operation types', () => {
    const { protection } = setup({ RATE_LIMIT_ENABLED: 'false', MAX_QUERY_DEPTH: '2' });
    assert.equal(protection.checkDocument('{ a { b } }'), undefined);
    const deep = protection.checkDocument('{ a { b { c { d } } } }');
    assert.ok(deep instanceof HttpError);
    assert.equal(deep.status, 400);
    // The same document passes under a looser limit: the gate reads this config's limits.
    assert.equal(
      setup({ RATE_LIMIT_ENABLED: 'false', MAX_QUERY_DEPTH: '8' }).protection.checkDocument('{ a { b { c { d } } } }'),
      undefined,
    );
    assert.deepEqual(protection.validationRules, [knownOperationTypes]);
  });
});
