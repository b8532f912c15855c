// The protection modules without a server: the memory store's windows, the limiter's decisions and
// failure modes, the query measures and rules, the API key guard.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { buildSchema, GraphQLError, parse, validate, type GraphQLResolveInfo } from 'graphql';
import pino from 'pino';
import { loadConfig, type Config } from '../src/config';
import { apiKeyGuard } from '../src/protection/api-keys';
import { checkQueryLimits, knownOperationTypes, measureDocument, overTokenLimit, QueryLimitGate } from '../src/protection/query-limits';
import { costOf, rateLimitMiddleware } from '../src/protection/rate-limit.middleware';
import { RateLimiter } from '../src/protection/rate-limiter';
import { MemoryRateLimitStore, type Decision, type RateLimitStore, type Usage } from '../src/protection/store';

const one = { ops: 1, rows: 1 };

describe('MemoryRateLimitStore windows', () => {
  const limits = { maxOps: 3, maxRows: 10, windowMs: 1_000 };

  it('allows exactly the limit of each budget and counts what it allowed', () => {
    let now = 100;
    const store = new MemoryRateLimitStore(10, () => now);
    assert.equal(store.kind, 'memory');
    assert.deepEqual(store.reserve('a', { ops: 1, rows: 4 }, limits), { allowed: true, opsUsed: 1, rowsUsed: 4, resetAt: 1_100 });
    now = 600;
    assert.deepEqual(
      store.reserve('a', { ops: 1, rows: 6 }, limits),
      { allowed: true, opsUsed: 2, rowsUsed: 10, resetAt: 1_100 },
      'rows exactly at the limit',
    );
    assert.deepEqual(store.reserve('a', { ops: 1, rows: 1 }, limits), {
      allowed: false,
      exceeded: 'rows',
      opsUsed: 2,
      rowsUsed: 10,
      resetAt: 1_100,
    });
    assert.deepEqual(
      store.reserve('a', { ops: 1, rows: 0 }, limits),
      { allowed: true, opsUsed: 3, rowsUsed: 10, resetAt: 1_100 },
      'ops exactly at the limit',
    );
    assert.deepEqual(store.reserve('a', { ops: 1, rows: 0 }, limits), {
      allowed: false,
      exceeded: 'operations',
      opsUsed: 3,
      rowsUsed: 10,
      resetAt: 1_100,
    });
    assert.deepEqual(store.peek('a'), { opsUsed: 3, rowsUsed: 10, resetAt: 1_100 });
  });

  it('a call that alone breaks a budget is refused on a fresh client without opening a window', () => {
    const store = new MemoryRateLimitStore(10, () => 50);
    assert.deepEqual(store.reserve('big', { ops: 1, rows: 11 }, limits), {
      allowed: false,
      exceeded: 'rows',
      opsUsed: 0,
      rowsUsed: 0,
      resetAt: 1_050,
    });
    assert.deepEqual(store.reserve('many', { ops: 4, rows: 0 }, limits), {
      allowed: false,
      exceeded: 'operations',
      opsUsed: 0,
      rowsUsed: 0,
      resetAt: 1_050,
    });
    assert.equal(store.size, 0);
    assert.deepEqual(store.peek('big'), { opsUsed: 0, rowsUsed: 0, resetAt: undefined });
  });

  it('the window is fixed: later calls do not move its end, and it ends exactly at resetAt', () => {
    let now = 0;
    const store = new MemoryRateLimitStore(10, () => now);
    store.reserve('a', one, limits);
    now = 999;
    assert.equal(store.reserve('a', one, limits).resetAt, 1_000);
    assert.deepEqual(store.peek('a'), { opsUsed: 2, rowsUsed: 2, resetAt: 1_000 });
    now = 1_000;
    assert.deepEqual(store.peek('a'), { opsUsed: 0, rowsUsed: 0, resetAt: undefined }, 'over at resetAt');
    assert.deepEqual(store.reserve('a', one, limits), { allowed: true, opsUsed: 1, rowsUsed: 1, resetAt: 2_000 });
  });

  it('an expired window behind a live one (windows of different lengths) is not reused', () => {
    let now = 0;
    const store = new MemoryRateLimitStore(10, () => now);
    store.reserve('long', one, { ...limits, windowMs: 10_000 });
    store.reserve('short', { ops: 3, rows: 3 }, limits);
    now = 1_000;
    assert.deepEqual(store.reserve('short', one, limits), { allowed: true, opsUsed: 1, rowsUsed: 1, resetAt: 2_000 });
  });

  it('drops windows that end exactly now, and keeps the rest', () => {
    let now = 0;
    const store = new MemoryRateLimitStore(10, () => now);
    store.reserve('a', one, limits);
    now = 10;
    store.reserve('b', one, limits);
    now = 1_000;
    store.reserve('c', one, limits);
    assert.equal(store.size, 2, 'a ended at 1,000 and is gone; b ends at 1,010');
    assert.deepEqual(store.peek('b'), { opsUsed: 1, rowsUsed: 1, resetAt: 1_010 });
  });

  it('evicts the oldest window when a new client would pass maxKeys', () => {
    const store = new MemoryRateLimitStore(2, () => 0);
    store.reserve('a', one, limits);
    store.reserve('b', one, limits);
    assert.equal(store.evicted, 0);
    assert.equal(store.size, 2, 'maxKeys clients fit');
    store.reserve('b', one, limits);
    assert.equal(store.evicted, 0, 'a known client is not new');
    store.reserve('c', one, limits);
    assert.equal(store.size, 2);
    assert.equal(store.evicted, 1);
    assert.equal(store.peek('a').opsUsed, 0, 'a was the oldest');
    assert.equal(store.peek('b').opsUsed, 2);
  });

  it('close forgets every window', async () => {
    const store = new MemoryRateLimitStore(10, () => 0);
    store.reserve('a', one, limits);
    await store.close();
    assert.equal(store.size, 0);
  });
});

function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ NODE_ENV: 'test', RATE_LIMIT_MAX: '5', RATE_LIMIT_ROWS_MAX: '50', RATE_LIMIT_WINDOW: '90s', ...env });
}

function captureLogger() {
  const lines: Array<Record<string, any>> = [];
  const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) });
  return { lines, logger: pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, sink) };
}

/** A store whose answers a test sets. */
class ScriptedStore implements RateLimitStore {
  readonly kind = 'memory' as const;
  reserved: Array<[string, unknown]> = [];
  closed = 0;
  constructor(
    public decision: () => Decision,
    public usage: () => Usage = () => ({ opsUsed: 0, rowsUsed: 0, resetAt: undefined }),
  ) {}
  async reserve(clientId: string, cost: unknown): Promise<Decision> {
    this.reserved.push([clientId, cost]);
    return this.decision();
  }
  async peek(): Promise<Usage> {
    return this.usage();
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

const refused = (over: Partial<Decision>): Decision => ({
  allowed: false,
  exceeded: 'operations',
  opsUsed: 5,
  rowsUsed: 1,
  resetAt: undefined,
  ...over,
});

describe('RateLimiter', () => {
  it('takes its limits from the configuration and picks the memory store without a Redis URL', async () => {
    const limiter = new RateLimiter(testConfig({ RATE_LIMIT_MEMORY_MAX_KEYS: '2' }), pino({ level: 'silent' }));
    assert.deepEqual(limiter.limits, { maxOps: 5, maxRows: 50, windowMs: 90_000 });
    assert.equal(limiter.windowSeconds, 90);
    assert.equal(limiter.store.kind, 'memory');
    for (const id of ['a', 'b', 'c']) await limiter.consume(id, one);
    assert.equal((limiter.store as MemoryRateLimitStore).size, 2, 'RATE_LIMIT_MEMORY_MAX_KEYS reaches the store');
    await limiter.close();
    assert.equal((limiter.store as MemoryRateLimitStore).size, 0, 'close closes the store');
  });

  it('picks the Redis store when RATE_LIMIT_REDIS_URL is set', async () => {
    const limiter = new RateLimiter(testConfig({ RATE_LIMIT_REDIS_URL: 'redis://127.0.0.1:1' }), pino({ level: 'silent' }));
    assert.equal(limiter.store.kind, 'redis');
    await limiter.close();
  });

  it('rounds the window to whole seconds', () => {
    const limiter = new RateLimiter(
      testConfig({ RATE_LIMIT_WINDOW: '1500ms' }),
      pino({ level: 'silent' }),
      new ScriptedStore(() => refused({})),
    );
    assert.equal(limiter.windowSeconds, 2);
  });

  it('passes an allowed call and charges the client its cost', async () => {
    const store = new ScriptedStore(() => ({ allowed: true, opsUsed: 1, rowsUsed: 3, resetAt: Date.now() + 1_000 }));
    const limiter = new RateLimiter(testConfig(), pino({ level: 'silent' }), store);
    await limiter.consume('ip:1', { ops: 1, rows: 3 });
    assert.deepEqual(store.reserved, [['ip:1', { ops: 1, rows: 3 }]]);
  });

  it('refuses with RATE_LIMITED naming the budget, limit, window and when to retry', async () => {
    const store = new ScriptedStore(() => refused({ resetAt: Date.now() + 2_500 }));
    const limiter = new RateLimiter(testConfig(), pino({ level: 'silent' }), store);
    await assert.rejects(limiter.consume('ip:1', one), (err: GraphQLError) => {
      const { http, ...ext } = err.extensions as Record<string, any>;
      assert.equal(ext.code, 'RATE_LIMITED');
      assert.equal(ext.budget, 'operations');
      assert.equal(ext.limit, 5);
      assert.equal(ext.window, '90s');
      assert.equal(ext.windowSeconds, 90);
      assert.equal(ext.retryAfter, 3, 'ceil(2.5 s)');
      assert.ok(Math.abs(Date.parse(ext.resetAt) - (Date.now() + 2_500)) < 1_000, ext.resetAt);
      assert.equal(http.status, 429);
      assert.equal(http.headers.get('retry-after'), '3');
      assert.equal(err.message, 'Rate limit exceeded: 5 operations per 90s; retry after 3 s');
      return true;
    });
    store.decision = () => refused({ exceeded: 'rows', resetAt: Date.now() - 5_000 });
    await assert.rejects(limiter.consume('ip:1', one), (err: GraphQLError) => {
      assert.equal(err.extensions.budget, 'rows');
      assert.equal(err.extensions.limit, 50);
      assert.equal(err.extensions.retryAfter, 1, 'never less than 1 s');
      assert.match(err.message, /^Rate limit exceeded: 50 readings per 90s/);
      return true;
    });
    store.decision = () => refused({ resetAt: undefined });
    await assert.rejects(limiter.consume('ip:1', one), (err: GraphQLError) => {
      assert.equal(err.extensions.retryAfter, 90, 'no known window end: a whole window');
      return true;
    });
  });

  it('fail open: a store failure lets the call through and logs once per 10 s', async () => {
    const { lines, logger } = captureLogger();
    const store = new ScriptedStore(() => {
      throw new Error('ECONNREFUSED');
    });
    const limiter = new RateLimiter(testConfig({ RATE_LIMIT_FAIL_MODE: 'open' }), logger, store);
    await limiter.consume('ip:1', one);
    await limiter.consume('ip:1', one);
    assert.equal(lines.length, 1);
    assert.deepEqual(
      { level: lines[0].level, store: lines[0].store, failMode: lines[0].failMode, reason: lines[0].reason, msg: lines[0].msg },
      { level: 'warn', store: 'memory', failMode: 'open', reason: 'ECONNREFUSED', msg: 'rate limit store failed; failing open' },
    );
  });

  it('fail closed: a store failure refuses the call with RATE_LIMITED / STORE_UNAVAILABLE', async () => {
    const { lines, logger } = captureLogger();
    const limiter = new RateLimiter(
      testConfig({ RATE_LIMIT_FAIL_MODE: 'closed' }),
      logger,
      new ScriptedStore(() => {
        throw new Error('timeout');
      }),
    );
    await assert.rejects(limiter.consume('ip:1', one), (err: GraphQLError) => {
      assert.equal(err.extensions.code, 'RATE_LIMITED');
      assert.equal(err.extensions.reason, 'STORE_UNAVAILABLE');
      assert.equal(err.extensions.retryAfter, 1);
      return true;
    });
    assert.equal(lines[0].msg, 'rate limit store failed; failing closed');
  });

  it('status reports the store, limits and usage; an unreachable store reads as unavailable', async () => {
    const { lines, logger } = captureLogger();
    const store = new ScriptedStore(
      () => refused({}),
      () => ({ opsUsed: 2, rowsUsed: 7, resetAt: 123 }),
    );
    const limiter = new RateLimiter(testConfig(), logger, store);
    assert.deepEqual(await limiter.status('ip:1'), {
      store: 'memory',
      limits: { maxOps: 5, maxRows: 50, windowMs: 90_000 },
      available: true,
      opsUsed: 2,
      rowsUsed: 7,
      resetAt: 123,
      requests: { limit: 600, windowSeconds: 60, opsUsed: 2, rowsUsed: 7, resetAt: 123 },
    });
    store.usage = () => {
      throw new Error('down');
    };
    assert.deepEqual(await limiter.status('ip:1'), {
      store: 'memory',
      limits: { maxOps: 5, maxRows: 50, windowMs: 90_000 },
      available: false,
      opsUsed: 0,
      rowsUsed: 0,
      resetAt: undefined,
      requests: { limit: 600, windowSeconds: 60, opsUsed: 0, rowsUsed: 0, resetAt: undefined },
    });
    assert.equal(lines.length, 1);
    assert.equal(lines[0].reason, 'down');
  });
});

const info = (parent: string, fieldName: string) =>
  ({ parentType: { name: parent }, fieldName, fieldNodes: [], fragments: {}, variableValues: {} }) as unknown as GraphQLResolveInfo;

describe('costOf and the middleware', () => {
  it('charges predict one operation and one row, predictBatch one operation and a row per reading', () => {
    const rows = (n: number) => ({ inputs: Array.from({ length: n }, () => ({})) });
    assert.deepEqual(costOf(info('Mutation', 'predict'), {}, 10), { ops: 1, rows: 1 });
    assert.deepEqual(costOf(info('Mutation', 'predictBatch'), rows(1), 10), { ops: 1, rows: 1 });
    assert.deepEqual(costOf(info('Mutation', 'predictBatch'), rows(10), 10), { ops: 1, rows: 10 });
    assert.deepEqual(costOf(info('Mutation', 'predictBatch'), rows(11), 10), { ops: 1, rows: 0 }, 'validation refuses it unscored');
    assert.deepEqual(costOf(info('Mutation', 'predictBatch'), rows(0), 10), { ops: 1, rows: 0 });
    assert.deepEqual(costOf(info('Mutation', 'predictBatch'), { inputs: 'x' }, 10), { ops: 1, rows: 0 });
    assert.equal(costOf(info('Mutation', 'other'), {}, 10), undefined);
    assert.equal(costOf(info('Query', 'predict'), {}, 10), undefined, 'only Mutation fields are counted');
    assert.equal(costOf(info('Query', 'health'), {}, 10), undefined);
  });

  it('spends the cost for the context client before the resolver runs, and free fields spend nothing', async () => {
    const store = new ScriptedStore(() => ({ allowed: true, opsUsed: 1, rowsUsed: 1, resetAt: 0 }));
    const limiter = new RateLimiter(testConfig({ MAX_BATCH_ROWS: '3' }), pino({ level: 'silent' }), store);
    const mw = rateLimitMiddleware(limiter);
    const order: string[] = [];
    const next = async () => void order.push('next');
    const context = { clientId: 'key:abc', budgets: [] };
    await mw({ args: {}, context, info: info('Query', 'health') } as never, next);
    assert.deepEqual(store.reserved, []);
    await mw({ args: { inputs: [1, 2, 3] }, context, info: info('Mutation', 'predictBatch') } as never, next);
    assert.deepEqual(store.reserved, [['key:abc', { ops: 1, rows: 3 }]], 'MAX_BATCH_ROWS reaches costOf');
    assert.deepEqual(order, ['next', 'next']);
    store.decision = () => refused({});
    await assert.rejects(mw({ args: {}, context, info: info('Mutation', 'predict') } as never, next), /Rate limit exceeded/);
    assert.deepEqual(order, ['next', 'next'], 'a refused call never reaches the resolver');
  });
});

describe('measureDocument', () => {
  const m = (doc: string) => measureDocument(parse(doc));

  it('counts root fields, cost, depth and aliases of a plain operation', () => {
    assert.deepEqual(m('query Q { a x: b nested { value child { value } } }'), [
      { name: 'Q', depth: 3, cost: 6, aliases: 1, rootFields: 3 },
    ]);
  });

  it('root fields, cost and aliases reached through fragments and inline fragments count like written-out ones', () => {
    const [r] = m(`{ ...Roots ... on Query { c y: a } }
      fragment Roots on Query { a b2: b ...More }
      fragment More on Query { nested { value } }`);
    assert.deepEqual(r, { name: '(anonymous)', depth: 2, cost: 6, aliases: 2, rootFields: 5 });
  });

  it('a fragment spread twice counts twice (expanded, memoised)', () => {
    const [r] = m('{ ...F ...F nested { ...G ...G } } fragment F on Query { a b } fragment G on Node { value child { value } }');
    assert.deepEqual(r, { name: '(anonymous)', depth: 3, cost: 11, aliases: 0, rootFields: 5 });
  });

  it('introspection subtrees count as depth 1 but still cost their fields', () => {
    const [r] = m('{ __schema { types { fields { type { name } } } } __type(name: "Query") { name } }');
    assert.equal(r.depth, 1);
    assert.equal(r.cost, 7);
    assert.equal(m('{ nested { child { child { value } } } }')[0].depth, 4, 'ordinary fields do nest');
  });

  it('fragment cycles and unknown fragments count 0 and terminate', () => {
    const [r] = m('{ a ...A ...Missing } fragment A on Query { b ...B } fragment B on Query { c ...A }');
    assert.deepEqual(r, { name: '(anonymous)', depth: 1, cost: 3, aliases: 0, rootFields: 3 });
  });

  it('measures every operation of a document separately', () => {
    assert.deepEqual(
      m('query One { a } mutation Two { m x: m }').map((o) => [o.name, o.rootFields, o.aliases]),
      [
        ['One', 1, 0],
        ['Two', 2, 1],
      ],
    );
  });
});

describe('checkQueryLimits (the pass that runs before validation)', () => {
  const limits = { maxQueryDepth: 3, maxQueryCost: 6, maxAliases: 1, maxRootFields: 3 };
  const check = (doc: string) => checkQueryLimits(parse(doc), limits);

  it('passes an operation exactly at every limit', () => {
    assert.equal(check('{ a x: b nested { child { value } value } }'), undefined);
  });

  it('refuses each limit broken, naming the operation, value, limit and variable', () => {
    const depth = check('query Deep { nested { child { child { value } } } }')!;
    assert.equal(depth.message, 'Operation Deep is nested 4 levels deep; the limit is 3 (MAX_QUERY_DEPTH)');
    assert.deepEqual(depth.extensions, { code: 'QUERY_TOO_COMPLEX', rule: 'depth', limit: 3, value: 4 });

    const cost = check('{ a nested { value child { value } } y: nested { value } }')!;
    assert.equal(cost.message, 'The operation selects 7 fields once fragments are expanded; the limit is 6 (MAX_QUERY_COST)');
    assert.deepEqual(cost.extensions, { code: 'QUERY_TOO_COMPLEX', rule: 'cost', limit: 6, value: 7 });

    const aliases = check('{ x: a y: b }')!;
    assert.equal(aliases.message, 'The operation uses 2 aliases; the limit is 1 (MAX_ALIASES)');
    assert.deepEqual(aliases.extensions, { code: 'QUERY_TOO_COMPLEX', rule: 'aliases', limit: 1, value: 2 });

    const roots = check('query Wide { a b c __typename }')!;
    assert.equal(roots.message, 'Operation Wide selects 4 root fields; the limit is 3 (MAX_ROOT_FIELDS)');
    assert.deepEqual(roots.extensions, { code: 'QUERY_TOO_COMPLEX', rule: 'rootFields', limit: 3, value: 4 });
  });

  it('a root-field limit fragments cannot escape', () => {
    const viaFragment = check('{ ...F } fragment F on Query { a b c __typename }')!;
    assert.deepEqual([viaFragment.extensions.rule, viaFragment.extensions.value], ['rootFields', 4]);
    assert.equal(check('{ a ... on Query { b ... on Query { c __typename } } }')!.extensions.rule, 'rootFields');
  });

  it('checks every operation of a document', () => {
    assert.equal(check('query A { a } query B { nested { child { child { value } } } }')!.extensions.rule, 'depth');
  });
});

describe('QueryLimitGate', () => {
  const config = { maxQueryDepth: 3, maxQueryCost: 6, maxAliases: 1, maxRootFields: 3, maxQueryTokens: 12 };

  it('refuses a document over MAX_QUERY_TOKENS before parsing it, and one over a limit, as 400 QUERY_TOO_COMPLEX', () => {
    const gate = new QueryLimitGate(config);
    // 13 tokens: { a b c d e f g h i j k }
    const tokens = gate.check('{ a b c d e f g h i j k }')!;
    assert.deepEqual([tokens.status, tokens.code, tokens.extensions], [400, 'QUERY_TOO_COMPLEX', { rule: 'tokens', limit: 12 }]);
    // 12 tokens exactly (comments do not count): passes the token limit, breaks the root-field limit.
    const tooMany = gate.check('# a comment\n{ a b c d e f g h i j }')!;
    assert.equal(tooMany.extensions.rule, 'cost', 'ten fields: the first limit checked that it breaks is the cost');
    assert.equal(tooMany.extensions.http, undefined, 'no transport details leak into extensions');
    assert.equal(gate.check('{ a b }'), undefined);
    assert.equal(gate.check('{ a b'), undefined, 'a syntax error is left to Apollo (GRAPHQL_PARSE_FAILED)');
  });
});

describe('overTokenLimit', () => {
  it('counts tokens as graphql-js parse does, comments excluded', () => {
    assert.equal(overTokenLimit('{ a }', 3), false);
    assert.equal(overTokenLimit('{ a b }', 3), true);
    assert.equal(overTokenLimit('# one\n# two\n{ a }', 3), false);
    assert.equal(overTokenLimit('{ "unterminated', 1), false, "lexing errors are the parser's to report");
  });
});

describe('knownOperationTypes', () => {
  it('refuses an operation type the schema has no root for, and nothing else', () => {
    const noMutation = buildSchema('type Query { a: Int }');
    const sub = validate(noMutation, parse('subscription S { a }'), [knownOperationTypes]);
    assert.deepEqual(
      sub.map((e) => e.message),
      ['This server has no subscription operations'],
    );
    assert.deepEqual(
      validate(noMutation, parse('mutation { a }'), [knownOperationTypes]).map((e) => e.message),
      ['This server has no mutation operations'],
    );
    assert.deepEqual(validate(noMutation, parse('query { a }'), [knownOperationTypes]), []);
  });
});

describe('apiKeyGuard', () => {
  const HASH = 'a'.repeat(64);
  const guard = apiKeyGuard(new Set([HASH]));
  const refusal = (apiKeyHash: string | undefined) => {
    try {
      guard({ clientId: 'x', apiKeyHash });
    } catch (err) {
      const e = err as Error & { status: number; code: string };
      return { status: e.status, code: e.code, message: e.message };
    }
    return undefined;
  };

  it('passes a listed key hash', () => {
    assert.equal(refusal(HASH), undefined);
  });

  it('refuses a request without a key, and one with an unlisted key, with 401 UNAUTHENTICATED', () => {
    assert.deepEqual(refusal(undefined), {
      status: 401,
      code: 'UNAUTHENTICATED',
      message: 'An API key is required: send it as x-api-key or Authorization: Bearer',
    });
    assert.deepEqual(refusal('b'.repeat(64)), { status: 401, code: 'UNAUTHENTICATED', message: 'The API key is not valid' });
    assert.deepEqual(refusal(''), { status: 401, code: 'UNAUTHENTICATED', message: 'The API key is not valid' });
  });
});

/** `levels` fragments, each spreading the previous one twice: 2^levels copies of `a`. */
function scalarFragmentBomb(levels: number): string {
  const parts = ['fragment F0 on Query { a }'];
  for (let i = 1; i <= levels; i++) parts.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
  return `{ ...F${levels} }\n${parts.join('\n')}`;
}

describe('measureDocument: fragment bombs and nested aliases', () => {
  it('measures a 2^40 fragment bomb at once: each fragment is measured once', () => {
    const [m] = measureDocument(parse(scalarFragmentBomb(40)));
    assert.equal(m.cost, 2 ** 40);
    assert.equal(m.rootFields, 2 ** 40);
    assert.equal(m.depth, 1);
  });

  it('counts aliases nested under an aliased field', () => {
    const [m] = measureDocument(parse('{ x: nested { y: value child { z: value } } }'));
    assert.equal(m.aliases, 3);
  });
});

describe('knownOperationTypes: error location', () => {
  it('points at the refused operation', () => {
    const schema = buildSchema('type Query { a: Int }');
    const [err] = validate(schema, parse('query Q { a }\nsubscription S { a }'), [knownOperationTypes]);
    assert.deepEqual(err.locations, [{ line: 2, column: 1 }]);
  });
});

describe('RateLimiter: a store rejecting with a non-Error', () => {
  it('a store that rejects with something other than an Error still fails open, and is logged', async () => {
    const lines: unknown[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const store: RateLimitStore = {
      kind: 'redis',
      reserve: () => Promise.reject(undefined),
      peek: () => Promise.reject(undefined),
      close: async () => {},
    };
    const limiter = new RateLimiter(loadConfig({ NODE_ENV: 'test', RATE_LIMIT_FAIL_MODE: 'open' }), logger, store);
    await limiter.consume('ip:1', { ops: 1, rows: 1 });
    assert.equal((await limiter.status('ip:1')).available, false);
    assert.equal(lines.length, 1);
    assert.equal((lines[0] as { msg: string }).msg, 'rate limit store failed; failing open');
  });
});
