// QueryLimitGate's memory of passed documents: bounded in count and in characters.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueryLimitGate } from '../src/protection/query-limits';

const LIMITS = { maxQueryDepth: 8, maxQueryCost: 5_000, maxAliases: 30, maxRootFields: 20, maxQueryTokens: 25_000 };
/** A document that passes every limit; the comment makes it `pad` characters longer and costs no tokens. */
const doc = (i: number, pad = 0) => `{ health { status } } # ${i} ${'x'.repeat(pad)}`;

describe('QueryLimitGate memory', () => {
  it('keeps at most `remember` documents, forgetting the oldest', () => {
    const gate = new QueryLimitGate(LIMITS, 3);
    for (let i = 0; i < 5; i++) assert.equal(gate.check(doc(i)), undefined);
    assert.equal(gate.remembered.documents, 3);
    assert.equal(
      gate.remembered.chars,
      [2, 3, 4].reduce((n, i) => n + doc(i).length, 0),
    );
  });

  it('keeps at most `rememberChars` characters: distinct long documents that pass do not grow the heap', () => {
    const gate = new QueryLimitGate(LIMITS, 1_000, 10_000);
    for (let i = 0; i < 50; i++) assert.equal(gate.check(doc(i, 2_000)), undefined);
    assert.ok(gate.remembered.chars <= 10_000, `${gate.remembered.chars} characters remembered`);
    assert.equal(gate.remembered.documents, Math.floor(10_000 / doc(49, 2_000).length));
  });

  it('does not remember a document over a quarter of `rememberChars` (it is checked every time)', () => {
    const gate = new QueryLimitGate(LIMITS, 1_000, 10_000);
    assert.equal(gate.check(doc(1, 3_000)), undefined);
    assert.deepEqual(gate.remembered, { documents: 0, chars: 0 });
    assert.equal(gate.check(doc(2, 2_000)), undefined);
    assert.equal(gate.remembered.documents, 1);
  });

  it('defaults to 1,000 documents and 4 Mi characters: a megabyte-document flood keeps at most 4 Mi', () => {
    const gate = new QueryLimitGate(LIMITS);
    for (let i = 0; i < 12; i++) gate.check(doc(i, 1_000_000));
    assert.ok(gate.remembered.chars <= 4 * 1024 * 1024);
    assert.equal(gate.remembered.documents, 4);
  });
});
