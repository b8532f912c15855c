// Cases the first mutation run of the protection modules showed no test held (docs/testing.md).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSchema, parse, validate } from 'graphql';
import pino from 'pino';
import { loadConfig } from '../src/config';
import { knownOperationTypes, measureDocument } from '../src/protection/query-limits';
import { RateLimiter } from '../src/protection/rate-limiter';
import type { RateLimitStore } from '../src/protection/store';

/** `levels` fragments, each spreading the previous one twice: 2^levels copies of `a`. */
function fragmentBomb(levels: number): string {
  const parts = ['fragment F0 on Query { a }'];
  for (let i = 1; i <= levels; i++) parts.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
  return `{ ...F${levels} }\n${parts.join('\n')}`;
}

describe('measureDocument, more', () => {
  it('measures a 2^40 fragment bomb at once: each fragment is measured once', () => {
    const [m] = measureDocument(parse(fragmentBomb(40)));
    assert.equal(m.cost, 2 ** 40);
    assert.equal(m.rootFields, 2 ** 40);
    assert.equal(m.depth, 1);
  });

  it('counts aliases nested under an aliased field', () => {
    const [m] = measureDocument(parse('{ x: nested { y: value child { z: value } } }'));
    assert.equal(m.aliases, 3);
  });
});

describe('knownOperationTypes, more', () => {
  it('points at the refused operation', () => {
    const schema = buildSchema('type Query { a: Int }');
    const [err] = validate(schema, parse('query Q { a }\nsubscription S { a }'), [knownOperationTypes]);
    assert.deepEqual(err.locations, [{ line: 2, column: 1 }]);
  });
});

describe('RateLimiter, more', () => {
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
