// QueryLimitGate's memory of passed documents (bounded in count and in characters, each bound exact), its
// token-limit answer, and what measureDocument reports for a document with fragments.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'graphql';
import { measureDocument, QueryLimitGate } from '../src/protection/query-limits';

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

describe('QueryLimitGate: exact bounds and answers', () => {
  /** Distinct passing documents of exactly `length` characters. */
  const sized = (i: number, length: number) => {
    const head = `{ health { status } } # ${i} `;
    return head + 'x'.repeat(length - head.length);
  };

  it('counts a document checked twice once: the second check is answered from memory', () => {
    const gate = new QueryLimitGate(LIMITS);
    assert.equal(gate.check(doc(1)), undefined);
    assert.equal(gate.check(doc(1)), undefined);
    assert.deepEqual(gate.remembered, { documents: 1, chars: doc(1).length });
  });

  it('remembers a document of exactly a quarter of `rememberChars`, and fills `rememberChars` exactly', () => {
    const gate = new QueryLimitGate(LIMITS, 1_000, 400);
    for (let i = 0; i < 4; i++) assert.equal(gate.check(sized(i, 100)), undefined);
    assert.deepEqual(gate.remembered, { documents: 4, chars: 400 });
    // One character more than the room left forgets the oldest.
    assert.equal(gate.check(sized(4, 100)), undefined);
    assert.deepEqual(gate.remembered, { documents: 4, chars: 400 });
    const over = new QueryLimitGate(LIMITS, 1_000, 400);
    assert.equal(over.check(sized(0, 101)), undefined);
    assert.deepEqual(over.remembered, { documents: 0, chars: 0 });
  });

  it('refuses a document over MAX_QUERY_TOKENS with the limit named, and remembers nothing', () => {
    const gate = new QueryLimitGate({ ...LIMITS, maxQueryTokens: 10 });
    const error = gate.check('{ a b c d e f g h i j k l }');
    assert.ok(error);
    assert.equal(error.status, 400);
    assert.equal(error.code, 'QUERY_TOO_COMPLEX');
    assert.equal(error.message, 'The document has more than 10 tokens (MAX_QUERY_TOKENS); reading stopped there');
    assert.deepEqual(error.extensions, { rule: 'tokens', limit: 10 });
    assert.deepEqual(gate.remembered, { documents: 0, chars: 0 });
  });
});

describe('measureDocument: operations only', () => {
  it('reports each operation once and never a fragment definition as if it were one', () => {
    const measured = measureDocument(
      parse(`query A { nested { ...Deep } }
        fragment Deep on Nested { value child { value } other: value }
        query B { health { status } }`),
    );
    assert.deepEqual(
      measured.map((m) => m.name),
      ['A', 'B'],
    );
    assert.deepEqual(measured[0], { name: 'A', depth: 3, cost: 5, aliases: 1, rootFields: 1 });
  });
});
