import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { DriftReference } from '../../src/inference/drift';
import { TEST_MODEL_DIR } from './server';

/** The test model's drift section (model.json `drift`): the training side live readings are compared with. */
export function testDriftReference(): DriftReference {
  return JSON.parse(readFileSync(path.join(TEST_MODEL_DIR, 'model.json'), 'utf8')).drift;
}
