// Cases the first mutation run of config.ts showed no test held (docs/testing.md).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { loadConfig } from '../src/config';

it('INFERENCE_DEVICE accepts each of auto, cpu and cuda', () => {
  for (const device of ['auto', 'cpu', 'cuda']) assert.equal(loadConfig({ INFERENCE_DEVICE: device }).inference.device, device);
});
