// The rate limiter without a server, on a fake clock (node:test's mocked Date): the request budget, the
// operation and row budgets, what a refusal says, the fail modes when the store throws, what `status`
// (the `rateLimit` query) and the middleware (the RateLimit headers) record, a cluster worker's stores,
// and a disabled limiter.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { GraphQLError, Kind, parse, type FieldNode, type GraphQLResolveInfo, type OperationDefinitionNode } from 'graphql';
import pino from 'pino';
import { loadConfig, type Config } from '../src/config';
import type { AppContext } from '../src/context';
import { HttpError } from '../src/errors';
import { createProtection } from '../src/protection';
import { costOf, rateLimitMiddleware } from '../src/protection/rate-limit.middleware';
import { RateLimiter, type BudgetState } from '../src/protection/rate-limiter';
import type { Cost, Decision, Limits, RateLimitStore, Usage } from '../src/protection/store';
import { RateLimitResolver } from '../src/resolvers/rate-limit.resolver';

/** 1 January 2026: a realistic epoch (the limiter's failure log compares with its last line, first 0). */
const T0 = Date.UTC(2026, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const quiet = pino({ level: 'silent' });

/** Operations 3, rows 10 per 60 s; requests 3 per 10 s. */
function config(env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    RATE_LIMIT_MAX: '3',
    RATE_LIMIT_ROWS_MAX: '10',
    RATE_LIMIT_WINDOW: '60s',
    REQUEST_LIMIT_MAX: '3',
    REQUEST_LIMIT_WINDOW: '10s',
    ...env,
  });
}

/** Mocks Date from T0 on; the limiter (and its memory stores) must be built after this. */
function clock(t: TestContext) {
  t.mock.timers.enable({ apis: ['Date'], now: T0 });
  return { tick: (ms: number) => t.mock.timers.tick(ms) };
}

function captureLogger() {
  const lines: Array<Record<string, any>> = [];
  const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) });
  return { lines, logger: pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, sink) };
}

/** A store whose answers a test sets, recording what it was asked. */
class ScriptedStore implements RateLimitStore {
  reserved: Array<[string, Cost, Limits]> = [];
  peeked: Array<[string, Limits]> = [];
  closed = 0;
  constructor(
    public decision: () => Decision,
    public usage: () => Usage = () => ({ opsUsed: 0, rowsUsed: 0, resetAt: undefined }),
    readonly kind: RateLimitStore['kind'] = 'redis',
  ) {}
  async reserve(clientId: string, cost: Cost, limits: Limits): Promise<Decision> {
    this.reserved.push([clientId, cost, limits]);
    return this.decision();
  }
  async peek(clientId: string, limits: Limits): Promise<Usage> {
    this.peeked.push([clientId, limits]);
    return this.usage();
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

/** A store that is down: every call throws. */
const downStore = () =>
  new ScriptedStore(
    () => {
      throw new Error('ECONNREFUSED');
    },
    () => {
      throw new Error('ECONNREFUSED');
    },
  );

async function refusal(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a refusal');
}

const requests = (remaining: number, resetAt: number): BudgetState => ({
  budget: 'requests',
  limit: 3,
  remaining,
  resetAt,
  windowSeconds: 10,
});
const budgets = (opsLeft: number, rowsLeft: number, resetAt: number): BudgetState[] => [
  { budget: 'operations', limit: 3, remaining: opsLeft, resetAt, windowSeconds: 60 },
  { budget: 'rows', limit: 10, remaining: rowsLeft, resetAt, windowSeconds: 60 },
];

describe('request budget (consumeRequest)', () => {
  it('allows exactly REQUEST_LIMIT_MAX requests per window, then 429 until the window ends', async (t) => {
    const { tick } = clock(t);
    const limiter = new RateLimiter(config(), quiet);
    assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(2, T0 + 10_000));
    tick(1_000);
    assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(1, T0 + 10_000), 'the window is fixed at the first request');
    assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(0, T0 + 10_000), 'the last one of the budget');

    const err = await refusal(limiter.consumeRequest('ip:1'));
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, 429);
    assert.equal(err.code, 'RATE_LIMITED');
    assert.equal(err.message, 'Rate limit exceeded: 3 requests per 10s; retry after 9 s');
    assert.deepEqual(err.extensions, {
      budget: 'requests',
      limit: 3,
      window: '10s',
      windowSeconds: 10,
      retryAfter: 9,
      resetAt: iso(T0 + 10_000),
    });
    assert.deepEqual(err.headers, { 'retry-after': '9' });

    tick(8_500); // 500 ms left: rounded up
    assert.equal((await refusal(limiter.consumeRequest('ip:1'))).extensions.retryAfter, 1);
    tick(499); // 1 ms left: still refused, never "retry after 0 s"
    const last = await refusal(limiter.consumeRequest('ip:1'));
    assert.deepEqual([last.extensions.retryAfter, last.headers['retry-after']], [1, '1']);
    tick(1); // the window ends exactly at resetAt; refused requests were not counted
    assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(2, T0 + 20_000));
  });

  it('retryAfter counts from the refusal, not from the start of the window', async (t) => {
    const { tick } = clock(t);
    const limiter = new RateLimiter(config({ REQUEST_LIMIT_MAX: '1', REQUEST_LIMIT_WINDOW: '1m' }), quiet);
    await limiter.consumeRequest('ip:1');
    tick(15_200);
    const err = await refusal(limiter.consumeRequest('ip:1'));
    assert.equal(err.message, 'Rate limit exceeded: 1 requests per 1m; retry after 45 s');
    assert.deepEqual(err.extensions, {
      budget: 'requests',
      limit: 1,
      window: '1m',
      windowSeconds: 60,
      retryAfter: 45,
      resetAt: iso(T0 + 60_000),
    });
  });

  it('each client has its own request budget, apart from its operation and row budgets', async (t) => {
    clock(t);
    const limiter = new RateLimiter(config(), quiet);
    for (let i = 0; i < 3; i++) await limiter.consumeRequest('ip:1');
    await assert.rejects(limiter.consumeRequest('ip:1'), HttpError);
    assert.deepEqual(await limiter.consumeRequest('ip:2'), requests(2, T0 + 10_000));
    assert.deepEqual(await limiter.consume('ip:1', { ops: 1, rows: 1 }), budgets(2, 9, T0 + 60_000), 'requests spent no operation');
    const status = await limiter.status('ip:1');
    assert.deepEqual([status.opsUsed, status.requests.opsUsed], [1, 3]);
  });

  it('in memory, the request budget has a store of its own: request windows never evict operation budgets', async (t) => {
    clock(t);
    const limiter = new RateLimiter(config({ RATE_LIMIT_MEMORY_MAX_KEYS: '1' }), quiet);
    await limiter.consume('ip:1', { ops: 1, rows: 2 });
    await limiter.consumeRequest('ip:1');
    await limiter.consumeRequest('ip:1');
    const status = await limiter.status('ip:1');
    assert.deepEqual([status.opsUsed, status.rowsUsed, status.requests.opsUsed], [1, 2, 2]);
    await limiter.consumeRequest('ip:2');
    const evicted = await limiter.status('ip:1');
    assert.deepEqual([evicted.opsUsed, evicted.requests.opsUsed], [1, 0], 'RATE_LIMIT_MEMORY_MAX_KEYS holds per store');
  });

  it('asks the store under a req: key, for one request and no rows, with the request limits', async (t) => {
    clock(t);
    const store = new ScriptedStore(() => ({ allowed: true, opsUsed: 1, rowsUsed: 0, resetAt: T0 + 4_000 }));
    const limiter = new RateLimiter(config(), quiet, store);
    const requestLimits = { maxOps: 3, maxRows: Number.MAX_SAFE_INTEGER, windowMs: 10_000 };
    assert.deepEqual(limiter.requestLimits, requestLimits);
    assert.deepEqual(await limiter.consumeRequest('key:ab'), requests(2, T0 + 4_000), "the store's window end");
    assert.deepEqual(store.reserved, [['req:key:ab', { ops: 1, rows: 0 }, requestLimits]]);
  });

  it('a store that knows no window end: a whole window from now; remaining is never below 0', async (t) => {
    const { tick } = clock(t);
    const store = new ScriptedStore(() => ({ allowed: true, opsUsed: 7, rowsUsed: 0, resetAt: undefined }));
    const limiter = new RateLimiter(config(), quiet, store);
    tick(2_000);
    assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(0, T0 + 12_000));
    store.decision = () => ({ allowed: false, exceeded: 'operations', opsUsed: 3, rowsUsed: 0, resetAt: undefined });
    const err = await refusal(limiter.consumeRequest('ip:1'));
    assert.deepEqual([err.extensions.retryAfter, err.extensions.resetAt], [10, iso(T0 + 12_000)]);
  });
});

describe('operation and row budgets (consume)', () => {
  it('spends each budget exactly to its limit and refuses what would pass it, naming the budget', async (t) => {
    const { tick } = clock(t);
    const limiter = new RateLimiter(config(), quiet);
    assert.deepEqual(await limiter.consume('ip:1', { ops: 1, rows: 4 }), budgets(2, 6, T0 + 60_000));
    assert.deepEqual(await limiter.consume('ip:1', { ops: 1, rows: 6 }), budgets(1, 0, T0 + 60_000), 'rows exactly at the limit');
    tick(15_500);
    const rows = await refusal(limiter.consume('ip:1', { ops: 1, rows: 1 }));
    assert.ok(rows instanceof GraphQLError);
    assert.equal(rows.message, 'Rate limit exceeded: 10 readings per 60s; retry after 45 s');
    const { http, ...ext } = rows.extensions as Record<string, any>;
    assert.deepEqual(ext, {
      code: 'RATE_LIMITED',
      budget: 'rows',
      limit: 10,
      window: '60s',
      windowSeconds: 60,
      retryAfter: 45,
      resetAt: iso(T0 + 60_000),
    });
    assert.deepEqual([http.status, [...http.headers]], [429, [['retry-after', '45']]]);

    assert.deepEqual(await limiter.consume('ip:1', { ops: 1, rows: 0 }), budgets(0, 0, T0 + 60_000), 'the refused call cost nothing');
    const ops = await refusal(limiter.consume('ip:1', { ops: 1, rows: 0 }));
    assert.equal(ops.message, 'Rate limit exceeded: 3 operations per 60s; retry after 45 s');
    assert.deepEqual([ops.extensions.budget, ops.extensions.limit], ['operations', 3]);

    tick(44_499);
    assert.equal((await refusal(limiter.consume('ip:1', { ops: 1, rows: 0 }))).extensions.retryAfter, 1, '1 ms left');
    tick(1);
    assert.deepEqual(await limiter.consume('ip:1', { ops: 1, rows: 10 }), budgets(2, 0, T0 + 120_000), 'a new window');
  });

  it('asks the store for the client with the operation and row limits; its figures are clamped at 0', async (t) => {
    clock(t);
    // A store shared with replicas that allow more (their limits differ during a rollout).
    const store = new ScriptedStore(() => ({ allowed: true, opsUsed: 5, rowsUsed: 12, resetAt: undefined }));
    const limiter = new RateLimiter(config(), quiet, store);
    assert.deepEqual(limiter.limits, { maxOps: 3, maxRows: 10, windowMs: 60_000 });
    assert.deepEqual(await limiter.consume('ip:7', { ops: 1, rows: 2 }), budgets(0, 0, T0 + 60_000));
    assert.deepEqual(store.reserved, [['ip:7', { ops: 1, rows: 2 }, { maxOps: 3, maxRows: 10, windowMs: 60_000 }]]);
  });

  it("a refusal's figures come from the store's window end, or a whole window when it knows none", async (t) => {
    clock(t);
    const store = new ScriptedStore(() => ({ allowed: false, exceeded: 'rows', opsUsed: 1, rowsUsed: 10, resetAt: T0 + 2_001 }));
    const limiter = new RateLimiter(config(), quiet, store);
    const err = await refusal(limiter.consume('ip:1', { ops: 1, rows: 1 }));
    assert.deepEqual([err.extensions.budget, err.extensions.retryAfter, err.extensions.resetAt], ['rows', 3, iso(T0 + 2_001)]);
    store.decision = () => ({ allowed: false, exceeded: 'operations', opsUsed: 3, rowsUsed: 0, resetAt: undefined });
    const whole = await refusal(limiter.consume('ip:1', { ops: 1, rows: 1 }));
    assert.deepEqual(
      [whole.extensions.budget, whole.extensions.retryAfter, whole.extensions.resetAt],
      ['operations', 60, iso(T0 + 60_000)],
    );
  });
});

describe('fail modes (RATE_LIMIT_FAIL_MODE) when the store throws', () => {
  it('memory: limits per process in memory, each budget family in its own store, until the store is back', async (t) => {
    clock(t);
    const store = downStore();
    const limiter = new RateLimiter(config(), quiet, store);
    assert.deepEqual(await limiter.consume('ip:1', { ops: 1, rows: 4 }), budgets(2, 6, T0 + 60_000));
    await limiter.consume('ip:1', { ops: 1, rows: 1 });
    await limiter.consume('ip:1', { ops: 1, rows: 1 });
    const err = await refusal(limiter.consume('ip:1', { ops: 1, rows: 1 }));
    assert.deepEqual([err.extensions.code, err.extensions.budget], ['RATE_LIMITED', 'operations']);

    assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(2, T0 + 10_000), 'the request budget has its own memory');
    await limiter.consumeRequest('ip:1');
    await limiter.consumeRequest('ip:1');
    assert.equal((await refusal(limiter.consumeRequest('ip:1'))).status, 429);

    assert.deepEqual(await limiter.status('ip:1'), {
      store: 'redis',
      limits: { maxOps: 3, maxRows: 10, windowMs: 60_000 },
      available: false,
      opsUsed: 3,
      rowsUsed: 6,
      resetAt: T0 + 60_000,
      requests: { limit: 3, windowSeconds: 10, opsUsed: 3, rowsUsed: 0, resetAt: T0 + 10_000 },
    });

    store.decision = () => ({ allowed: true, opsUsed: 1, rowsUsed: 1, resetAt: T0 + 60_000 });
    assert.deepEqual(await limiter.consume('ip:1', { ops: 1, rows: 1 }), budgets(2, 9, T0 + 60_000), 'the store is back: it decides');
  });

  it('open: serves without limits; the request budget reads as full', async (t) => {
    clock(t);
    const limiter = new RateLimiter(config({ RATE_LIMIT_FAIL_MODE: 'open' }), quiet, downStore());
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await limiter.consume('ip:1', { ops: 1, rows: 10 }), []);
      assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(3, T0 + 10_000));
    }
    assert.deepEqual(await limiter.status('ip:1'), {
      store: 'redis',
      limits: { maxOps: 3, maxRows: 10, windowMs: 60_000 },
      available: false,
      opsUsed: 0,
      rowsUsed: 0,
      resetAt: undefined,
      requests: { limit: 3, windowSeconds: 10, opsUsed: 0, rowsUsed: 0, resetAt: undefined },
    });
  });

  it('closed: counted calls get 503 STORE_UNAVAILABLE; the request budget keeps limiting per process', async (t) => {
    clock(t);
    const limiter = new RateLimiter(config({ RATE_LIMIT_FAIL_MODE: 'closed' }), quiet, downStore());
    const err = await refusal(limiter.consume('ip:1', { ops: 1, rows: 1 }));
    assert.equal(err.message, 'Rate limiting is unavailable; retry after 1 s');
    const { http, ...ext } = err.extensions;
    assert.deepEqual(ext, { code: 'RATE_LIMITED', reason: 'STORE_UNAVAILABLE', retryAfter: 1 });
    assert.equal(http.status, 503);

    assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(2, T0 + 10_000));
    assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(1, T0 + 10_000));
    assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(0, T0 + 10_000));
    assert.equal((await refusal(limiter.consumeRequest('ip:1'))).status, 429);
    const status = await limiter.status('ip:1');
    assert.deepEqual(
      [status.available, status.opsUsed, status.requests.opsUsed],
      [false, 0, 0],
      'only `memory` reports the fallback figures',
    );
  });

  it('logs one warning per 10 s while the store fails, naming the store, the mode and the reason', async (t) => {
    const { tick } = clock(t);
    const { lines, logger } = captureLogger();
    const limiter = new RateLimiter(config(), logger, downStore());
    await limiter.consume('ip:1', { ops: 1, rows: 1 });
    await limiter.consumeRequest('ip:1');
    assert.equal(lines.length, 1);
    const { level, store, failMode, reason, msg } = lines[0];
    assert.deepEqual(
      { level, store, failMode, reason, msg },
      {
        level: 'warn',
        store: 'redis',
        failMode: 'memory',
        reason: 'ECONNREFUSED',
        msg: 'rate limit store failed; limiting per process in memory until it is back',
      },
    );
    tick(9_999);
    await limiter.status('ip:1');
    assert.equal(lines.length, 1, 'not within 10 s');
    tick(1);
    await limiter.status('ip:1');
    assert.equal(lines.length, 2, 'again exactly 10 s after the last line');
    tick(9_999);
    await limiter.consumeRequest('ip:1');
    assert.equal(lines.length, 2, 'counted from the last line, not the first');
  });

  it("the closed mode's warning says so", async (t) => {
    clock(t);
    const { lines, logger } = captureLogger();
    const limiter = new RateLimiter(config({ RATE_LIMIT_FAIL_MODE: 'closed' }), logger, downStore());
    await assert.rejects(limiter.consume('ip:1', { ops: 1, rows: 1 }));
    assert.deepEqual([lines[0].failMode, lines[0].msg], ['closed', 'rate limit store failed; failing closed']);
  });
});

describe('status (the rateLimit query)', () => {
  it('reads both budgets without spending anything', async (t) => {
    clock(t);
    const limiter = new RateLimiter(config(), quiet);
    await limiter.consume('ip:1', { ops: 1, rows: 4 });
    await limiter.consumeRequest('ip:1');
    await limiter.consumeRequest('ip:1');
    const expected = {
      store: 'memory',
      limits: { maxOps: 3, maxRows: 10, windowMs: 60_000 },
      available: true,
      opsUsed: 1,
      rowsUsed: 4,
      resetAt: T0 + 60_000,
      requests: { limit: 3, windowSeconds: 10, opsUsed: 2, rowsUsed: 0, resetAt: T0 + 10_000 },
    };
    assert.deepEqual(await limiter.status('ip:1'), expected);
    assert.deepEqual(await limiter.status('ip:1'), expected, 'looking twice spent nothing');
    assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(0, T0 + 10_000));
  });

  it('peeks the client and its req: key, each with its own limits', async (t) => {
    clock(t);
    const store = new ScriptedStore(
      () => assert.fail('status never reserves'),
      () => ({ opsUsed: 2, rowsUsed: 5, resetAt: T0 + 1_000 }),
    );
    const limiter = new RateLimiter(config(), quiet, store);
    const status = await limiter.status('key:ab');
    assert.deepEqual(store.peeked, [
      ['key:ab', { maxOps: 3, maxRows: 10, windowMs: 60_000 }],
      ['req:key:ab', { maxOps: 3, maxRows: Number.MAX_SAFE_INTEGER, windowMs: 10_000 }],
    ]);
    assert.deepEqual(status.requests, { limit: 3, windowSeconds: 10, opsUsed: 2, rowsUsed: 5, resetAt: T0 + 1_000 });
  });

  it('the resolver turns it into the rateLimit answer; with the limiter off, full budgets and store "none"', async (t) => {
    clock(t);
    const cfg = config();
    const limiter = new RateLimiter(cfg, quiet);
    await limiter.consume('key:ab', { ops: 1, rows: 4 });
    await limiter.consumeRequest('key:ab');
    const resolver = new RateLimitResolver();
    const ctx = (over: Partial<AppContext>) => ({ config: cfg, limiter, clientId: 'key:ab', ...over }) as AppContext;
    assert.deepEqual(await resolver.rateLimit(ctx({})), {
      enabled: true,
      store: 'memory',
      available: true,
      identifiedBy: 'apiKey',
      limit: 3,
      used: 1,
      remaining: 2,
      rowsLimit: 10,
      rowsUsed: 4,
      rowsRemaining: 6,
      windowSeconds: 60,
      resetAt: iso(T0 + 60_000),
      requestsLimit: 3,
      requestsUsed: 1,
      requestsRemaining: 2,
      requestsWindowSeconds: 10,
      requestsResetAt: iso(T0 + 10_000),
    });
    assert.deepEqual(await resolver.rateLimit(ctx({ limiter: undefined, clientId: 'ip:1' })), {
      enabled: false,
      store: 'none',
      available: true,
      identifiedBy: 'ip',
      limit: 3,
      used: 0,
      remaining: 3,
      rowsLimit: 10,
      rowsUsed: 0,
      rowsRemaining: 10,
      windowSeconds: 60,
      resetAt: null,
      requestsLimit: 3,
      requestsUsed: 0,
      requestsRemaining: 3,
      requestsWindowSeconds: 10,
      requestsResetAt: null,
    });
  });
  it('the resolver answers null window ends where no window is open', async (t) => {
    clock(t);
    const cfg = config({ RATE_LIMIT_FAIL_MODE: 'open' });
    const resolver = new RateLimitResolver();
    const fresh = await resolver.rateLimit({ config: cfg, limiter: new RateLimiter(cfg, quiet), clientId: 'ip:9' } as AppContext);
    assert.deepEqual([fresh.used, fresh.remaining, fresh.resetAt, fresh.requestsUsed, fresh.requestsResetAt], [0, 3, null, 0, null]);
    const down = await resolver.rateLimit({
      config: cfg,
      limiter: new RateLimiter(cfg, quiet, downStore()),
      clientId: 'ip:9',
    } as AppContext);
    assert.deepEqual([down.available, down.store, down.resetAt, down.requestsResetAt], [false, 'redis', null, null]);
  });
});

describe('close', () => {
  it('closes the store and forgets the in-memory windows of both budget families', async (t) => {
    clock(t);
    const store = downStore();
    const limiter = new RateLimiter(config(), quiet, store);
    await limiter.consume('ip:1', { ops: 1, rows: 1 });
    await limiter.consumeRequest('ip:1');
    await limiter.close();
    assert.equal(store.closed, 1);
    const status = await limiter.status('ip:1');
    assert.deepEqual([status.opsUsed, status.requests.opsUsed], [0, 0]);
  });
});

/** The resolve info of the first root field of `doc`, with its fragments and variables. */
function infoFor(doc: string, variableValues: Record<string, unknown> = {}, fieldNodes?: number[]): GraphQLResolveInfo {
  const ast = parse(doc);
  const op = ast.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fields = op.selectionSet.selections as FieldNode[];
  const fragments = Object.fromEntries(ast.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d]] : [])));
  return {
    parentType: { name: op.operation === 'mutation' ? 'Mutation' : 'Query' },
    fieldName: fields[0].name.value,
    fieldNodes: (fieldNodes ?? [0]).map((i) => fields[i]),
    fragments,
    variableValues,
  } as unknown as GraphQLResolveInfo;
}

describe('costOf: explanation costs EXPLAINED_ROW_COST (6) rows a reading', () => {
  const rows = (doc: string, variables?: Record<string, unknown>, args: Record<string, unknown> = {}, nodes?: number[]) =>
    costOf(infoFor(doc, variables, nodes), args, 10)?.rows;
  const three = { inputs: [{}, {}, {}] };

  it('selected directly, in an inline fragment or in a named fragment (at any depth of fragments)', () => {
    assert.equal(rows('mutation { predict { label } }'), 1);
    assert.equal(rows('mutation { predict { label explanation { drivers { field } } } }'), 6);
    assert.equal(rows('mutation { predictBatch { explanation { drivers { field } } } }', {}, three), 18);
    assert.equal(rows('mutation { predictBatch { label } }', {}, three), 3);
    assert.equal(rows('mutation { predict { ... on Prediction { explanation { summary } } } }'), 6);
    assert.equal(
      rows('mutation { predict { ...P } } fragment P on Prediction { label ...Q } fragment Q on Prediction { explanation { summary } }'),
      6,
    );
  });

  it('not charged where it is not selected on the result itself', () => {
    assert.equal(rows('mutation { predict { label ... on Prediction { label } } }'), 1);
    assert.equal(rows('mutation { predict { ...P } } fragment P on Prediction { label }'), 1, 'a fragment without it');
    assert.equal(
      rows('mutation { predict { ...P explanation { summary } } } fragment P on Prediction { label }'),
      6,
      'after such a fragment',
    );
    assert.equal(rows('mutation { predict { model { explanation } } }'), 1, "a sub-field's own explanation is not the reading's");
    assert.equal(rows('mutation { predict }'), 1, 'no selection set');
    assert.equal(rows('mutation { predict { ...Missing } }'), 1, 'an unknown fragment');
    assert.equal(
      rows('mutation { predict { ...A } } fragment A on Prediction { ...B } fragment B on Prediction { ...A label }'),
      1,
      'a cycle ends',
    );
  });

  it('honours @skip and @include, with literals and variables, on fields and fragments', () => {
    assert.equal(rows('mutation { predict { explanation @skip(if: true) { summary } } }'), 1);
    assert.equal(rows('mutation { predict { explanation @skip(if: false) { summary } } }'), 6);
    assert.equal(rows('mutation { predict { explanation @include(if: false) { summary } } }'), 1);
    assert.equal(rows('mutation { predict { explanation @include(if: true) { summary } } }'), 6);
    const q = 'mutation($x: Boolean!) { predict { explanation @include(if: $x) { summary } } }';
    assert.equal(rows(q, { x: true }), 6);
    assert.equal(rows(q, { x: false }), 1);
    assert.equal(rows('mutation($s: Boolean!) { predict { ... @skip(if: $s) { explanation { summary } } } }', { s: true }), 1);
    assert.equal(rows('mutation { predict { ...P @include(if: false) } } fragment P on Prediction { explanation { summary } }'), 1);
  });

  it('one field written twice (merged nodes): charged if either node selects it', () => {
    assert.equal(rows('mutation { predict { label } predict { explanation { summary } } }', {}, {}, [0, 1]), 6);
    assert.equal(rows('mutation { predict { explanation { summary } } predict { label } }', {}, {}, [0, 1]), 6);
  });
});

const fieldInfo = (parent: string, fieldName: string) =>
  ({ parentType: { name: parent }, fieldName, fieldNodes: [], fragments: {}, variableValues: {} }) as unknown as GraphQLResolveInfo;

describe('middleware: what the RateLimit headers are built from', () => {
  const run = (limiter: RateLimiter, context: { clientId: string; budgets: BudgetState[] }, info: GraphQLResolveInfo, args = {}) =>
    rateLimitMiddleware(limiter)({ args, context, info, root: undefined } as never, async () => 'resolved');

  it("records both budgets' standing after each counted call and returns the resolver's value", async (t) => {
    clock(t);
    const limiter = new RateLimiter(config(), quiet);
    const context = { clientId: 'ip:1', budgets: [] as BudgetState[] };
    assert.equal(await run(limiter, context, fieldInfo('Mutation', 'predict')), 'resolved');
    assert.equal(await run(limiter, context, fieldInfo('Mutation', 'predictBatch'), { inputs: [{}, {}] }), 'resolved');
    assert.deepEqual(context.budgets, [...budgets(2, 9, T0 + 60_000), ...budgets(1, 7, T0 + 60_000)]);
    assert.equal(await run(limiter, context, fieldInfo('Query', 'rateLimit')), 'resolved');
    assert.equal(context.budgets.length, 4, 'free fields record nothing');
  });

  it('a refusal records the budget that ran out, with nothing remaining, and the resolver never runs', async (t) => {
    const { tick } = clock(t);
    const limiter = new RateLimiter(config({ MAX_BATCH_ROWS: '20' }), quiet);
    const context = { clientId: 'ip:1', budgets: [] as BudgetState[] };
    tick(500);
    const err = await refusal(
      run(limiter, context, fieldInfo('Mutation', 'predictBatch'), { inputs: Array.from({ length: 11 }, () => ({})) }),
    );
    assert.deepEqual([err.extensions.budget, err.extensions.resetAt], ['rows', iso(T0 + 60_500)]);
    assert.deepEqual(context.budgets, [{ budget: 'rows', limit: 10, remaining: 0, resetAt: T0 + 60_500, windowSeconds: 60 }]);
    context.budgets = [];
    for (let i = 0; i < 3; i++) await run(limiter, context, fieldInfo('Mutation', 'predict'));
    await assert.rejects(run(limiter, context, fieldInfo('Mutation', 'predict')), /Rate limit exceeded: 3 operations per 60s/);
    assert.deepEqual(context.budgets.at(-1), { budget: 'operations', limit: 3, remaining: 0, resetAt: T0 + 60_500, windowSeconds: 60 });
    assert.equal(context.budgets.length, 7);
  });

  it('a refusal without a budget (closed mode, store down) records nothing', async (t) => {
    clock(t);
    const limiter = new RateLimiter(config({ RATE_LIMIT_FAIL_MODE: 'closed' }), quiet, downStore());
    const context = { clientId: 'ip:1', budgets: [] as BudgetState[] };
    await assert.rejects(run(limiter, context, fieldInfo('Mutation', 'predict')), /Rate limiting is unavailable/);
    assert.deepEqual(context.budgets, []);
  });

  it('other errors pass through as thrown and record nothing', async (t) => {
    clock(t);
    const limiter = new RateLimiter(config(), quiet);
    const context = { clientId: 'ip:1', budgets: [] as BudgetState[] };
    for (const thrown of [new Error('plain'), new GraphQLError('limit', { extensions: { code: 'QUERY_TOO_COMPLEX', limit: 3 } })]) {
      limiter.consume = () => Promise.reject(thrown);
      await assert.rejects(run(limiter, context, fieldInfo('Mutation', 'predict')), (err) => err === thrown);
    }
    assert.deepEqual(context.budgets, []);
  });
});

describe('a cluster worker without Redis', () => {
  it('asks the primary: budgets on the budgets channel, the request budget on the requests channel', async (t) => {
    clock(t);
    const sent: Array<Record<string, unknown>> = [];
    const proc = process as unknown as Record<string, unknown>;
    const saved = { send: proc.send, connected: proc.connected, isWorker: cluster.isWorker };
    proc.send = (message: Record<string, unknown>, _h: unknown, _o: unknown, cb: (err: Error | null) => void) => {
      sent.push(message);
      cb(null);
      const result =
        message.op === 'reserve'
          ? { allowed: true, opsUsed: 1, rowsUsed: 0, resetAt: T0 + 5_000 }
          : { opsUsed: 2, rowsUsed: 0, resetAt: T0 + 5_000 };
      setImmediate(() => process.emit('message' as never, { pm: message.pm, id: message.id, result } as never));
      return true;
    };
    proc.connected = true;
    (cluster as { isWorker: boolean }).isWorker = true;
    try {
      const limiter = new RateLimiter(config(), quiet);
      assert.equal(limiter.store.kind, 'cluster');
      assert.deepEqual(await limiter.consumeRequest('ip:1'), requests(2, T0 + 5_000));
      await limiter.consume('ip:1', { ops: 1, rows: 0 });
      await limiter.status('ip:1');
      const strip = ({ id: _id, ...m }: Record<string, unknown>) => m;
      assert.deepEqual(sent.map(strip), [
        {
          op: 'reserve',
          family: 'requests',
          clientId: 'req:ip:1',
          cost: { ops: 1, rows: 0 },
          limits: { maxOps: 3, maxRows: Number.MAX_SAFE_INTEGER, windowMs: 10_000 },
          pm: 'pm:rate-limit:requests',
        },
        {
          op: 'reserve',
          family: 'budgets',
          clientId: 'ip:1',
          cost: { ops: 1, rows: 0 },
          limits: { maxOps: 3, maxRows: 10, windowMs: 60_000 },
          pm: 'pm:rate-limit:budgets',
        },
        {
          op: 'peek',
          family: 'budgets',
          clientId: 'ip:1',
          limits: { maxOps: 3, maxRows: 10, windowMs: 60_000 },
          pm: 'pm:rate-limit:budgets',
        },
        {
          op: 'peek',
          family: 'requests',
          clientId: 'req:ip:1',
          limits: { maxOps: 3, maxRows: Number.MAX_SAFE_INTEGER, windowMs: 10_000 },
          pm: 'pm:rate-limit:requests',
        },
      ]);
      const given = new ScriptedStore(() => ({ allowed: true, opsUsed: 1, rowsUsed: 0, resetAt: T0 }));
      assert.equal(new RateLimiter(config(), quiet, given).store, given, 'a store given wins');
    } finally {
      proc.send = saved.send;
      proc.connected = saved.connected;
      (cluster as { isWorker: boolean }).isWorker = saved.isWorker;
    }
  });
});

describe('a disabled limiter (RATE_LIMIT_ENABLED=false)', () => {
  it('creates no limiter, middleware or plugin, and warns once at start', () => {
    const { lines, logger } = captureLogger();
    const off = createProtection(config({ RATE_LIMIT_ENABLED: 'false' }), logger);
    assert.equal(off.limiter, undefined);
    assert.deepEqual([off.globalMiddlewares.length, off.plugins.length], [0, 0]);
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [['warn', 'rate limiting is off (RATE_LIMIT_ENABLED=false)']],
    );
    const on = createProtection(config(), logger);
    assert.ok(on.limiter instanceof RateLimiter);
    assert.deepEqual([on.globalMiddlewares.length, on.plugins.length, lines.length], [1, 1, 1]);
  });
});
