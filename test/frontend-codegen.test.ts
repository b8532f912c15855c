/**
 * examples/frontend-codegen.yml (docs/api.md "Use it from your own app") works as a frontend project would
 * use it: copied into an empty project with one operation, graphql-codegen generates typed documents
 * from the committed schema.graphql and from a running server, and the result type-checks.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startServer, type TestServer } from './helpers/server';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const CODEGEN_BIN = path.join(ROOT, 'node_modules', '@graphql-codegen', 'cli', 'cjs', 'bin.js');
const TSC_BIN = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** What a frontend developer writes: an operation, and code that calls it with typed variables. */
const OPERATION = `mutation Predict($input: SensorReadingInput!) {
  predict(input: $input) { label probability isAnomaly }
}
`;
const CONSUMER = `import type { ResultOf, VariablesOf } from '@graphql-typed-document-node/core';
import { PredictDocument } from './gql/graphql';

export const variables: VariablesOf<typeof PredictDocument> = {
  input: { airTemperature: 300.1, processTemperature: 310.2, rotationalSpeed: 1500, torque: 40, toolWear: 100, productType: 'L' },
};
// @ts-expect-error productType is 'L' | 'M' | 'H'
export const wrong: VariablesOf<typeof PredictDocument> = { input: { ...variables.input, productType: 'X' } };
export const label = (r: ResultOf<typeof PredictDocument>): string => r.predict.label;
`;

function frontendProject(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'frontend-codegen-'));
  copyFileSync(path.join(ROOT, 'examples', 'frontend-codegen.yml'), path.join(dir, 'codegen.yml'));
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src', 'predict.graphql'), OPERATION);
  writeFileSync(path.join(dir, 'src', 'use-predict.ts'), CONSUMER);
  // Stands in for the frontend's own `npm install` of the packages the config's header lists.
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

async function generate(dir: string, schema: string): Promise<string> {
  await run(process.execPath, [CODEGEN_BIN, '--config', 'codegen.yml', '--silent'], {
    cwd: dir,
    env: { ...process.env, GRAPHQL_SCHEMA: schema },
    timeout: 120_000,
  });
  return readFileSync(path.join(dir, 'src', 'gql', 'graphql.ts'), 'utf8');
}

describe('examples/frontend-codegen.yml', () => {
  let server: TestServer;
  const dirs: string[] = [];
  before(async () => {
    server = await startServer({ RATE_LIMIT_ENABLED: 'false' });
  });
  after(async () => {
    await server.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('generates the same typed documents from schema.graphql and from a running server, and they type-check', async () => {
    const fromFile = frontendProject();
    const fromServer = frontendProject();
    dirs.push(fromFile, fromServer);
    const [generated, viaIntrospection] = await Promise.all([
      generate(fromFile, path.join(ROOT, 'schema.graphql')),
      generate(fromServer, server.url),
    ]);
    assert.match(generated, /export const PredictDocument = /);
    assert.match(generated, /productType: ProductType;/);
    assert.equal(viaIntrospection, generated);
    // The consumer's @ts-expect-error fails this if the enum stops being typed.
    await run(
      process.execPath,
      [
        TSC_BIN,
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--target',
        'ES2022',
        '--module',
        'commonjs',
        '--moduleResolution',
        'node',
        'src/use-predict.ts',
      ],
      { cwd: fromFile, timeout: 120_000 },
    );
  });

  it('is what docs/api.md\'s "Use it from your own app" shows (without its comments)', () => {
    const config = readFileSync(path.join(ROOT, 'examples', 'frontend-codegen.yml'), 'utf8');
    const uncommented = config
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join('\n')
      .trim();
    assert.ok(readFileSync(path.join(ROOT, 'docs', 'api.md'), 'utf8').includes(`\`\`\`yaml\n${uncommented}\n\`\`\``));
  });
});
