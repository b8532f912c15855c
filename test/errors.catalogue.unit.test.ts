// The catalogue constructors added after errors.unit.test.ts's table: the edge's 503 and a reload that
// dropped its shadow. Clients and operators read these fields (Retry-After, servingVersion), so each is pinned.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, HttpError, httpServerBusy, RETRY_AFTER_SECONDS, shadowDropped } from '../src/errors';

describe('error catalogue: the edge and reload constructors', () => {
  it('httpServerBusy: 503 SERVER_BUSY with Retry-After in the header and in extensions, extras after it', () => {
    const plain = httpServerBusy('The server is overloaded; retry shortly');
    assert.ok(plain instanceof HttpError);
    assert.equal(plain.status, 503);
    assert.equal(plain.code, ErrorCode.SERVER_BUSY);
    assert.equal(plain.message, 'The server is overloaded; retry shortly');
    assert.deepEqual(plain.extensions, { retryAfter: RETRY_AFTER_SECONDS });
    assert.deepEqual(plain.headers, { 'retry-after': String(RETRY_AFTER_SECONDS) });
    const extra = httpServerBusy('Large bodies are full', { reason: 'LARGE_BODIES_FULL' });
    assert.deepEqual(Object.entries(extra.extensions), [
      ['retryAfter', RETRY_AFTER_SECONDS],
      ['reason', 'LARGE_BODIES_FULL'],
    ]);
  });

  it('shadowDropped: MODEL_RELOAD_FAILED naming the shadow, the reason and the primary that keeps serving', () => {
    const e = shadowDropped('shadow golden check failed: case 3', '2.1.0');
    assert.equal(e.message, 'shadow golden check failed: case 3; the primary model 2.1.0 keeps serving');
    assert.deepEqual(e.extensions, {
      code: ErrorCode.MODEL_RELOAD_FAILED,
      reason: 'shadow golden check failed: case 3',
      model: 'shadow',
      servingVersion: '2.1.0',
    });
  });
});
