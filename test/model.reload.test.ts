import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { metricValue, scrape } from './helpers/metrics';
import { NORMAL_READING, startServer, TEST_MODEL_DIR, type TestServer } from './helpers/server';
import { until } from './helpers/wait';

const ADMIN_KEY = 'reload-test-admin-key';
const ADMIN = { 'x-api-key': ADMIN_KEY };
const RELOAD = 'mutation { reloadModel { version device } }';
const PREDICT = 'mutation P($input: SensorReadingInput!) { predict(input: $input) { modelVersion } }';
const BATCH = 'mutation B($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { modelVersion } }';
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** A private copy of the model directory that a test may rewrite. */
function modelCopy(): {
  dir: string;
  edit: (file: string, change: (text: string) => string) => void;
  json: (file: string, change: (j: any) => void) => void;
} {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reload-model-'));
  cpSync(TEST_MODEL_DIR, dir, { recursive: true });
  const edit = (file: string, change: (text: string) => string) => {
    const p = path.join(dir, file);
    writeFileSync(p, change(readFileSync(p, 'utf8')));
  };
  const json = (file: string, change: (j: any) => void) =>
    edit(file, (text) => {
      const j = JSON.parse(text);
      change(j);
      return JSON.stringify(j, null, 1);
    });
  return { dir, edit, json };
}

describe('reloadModel: new models without downtime', () => {
  const model = modelCopy();
  let s: TestServer;
  let original: string;
  before(async () => {
    s = await startServer({ MODEL_DIR: model.dir, ADMIN_API_KEYS: sha256(ADMIN_KEY), RATE_LIMIT_ENABLED: 'false', MAX_BATCH_SIZE: '8' });
    original = s.models.service().manifest.version;
  });
  after(async () => {
    await s.close();
    rmSync(model.dir, { recursive: true, force: true });
  });

  it('answers FORBIDDEN without an admin key, and to everyone when no admin key is configured', async () => {
    for (const headers of [{}, { 'x-api-key': 'not-the-admin-key' }] as Array<Record<string, string>>) {
      const { body } = await s.gql(RELOAD, undefined, headers);
      assert.equal(body.errors?.[0].extensions?.code, 'FORBIDDEN');
      assert.match(body.errors![0].message, /admin API key/);
    }
    const noAdmins = await startServer({ RATE_LIMIT_ENABLED: 'false' });
    try {
      const { body } = await noAdmins.gql(RELOAD, undefined, ADMIN);
      assert.equal(body.errors?.[0].extensions?.code, 'FORBIDDEN');
      assert.match(body.errors![0].message, /no admin keys are configured/);
    } finally {
      await noAdmins.close();
    }
    assert.equal(s.models.service().manifest.version, original);
  });

  it('accepts an admin key where API keys are required, and keeps an ordinary key from reloading', async () => {
    const keyed = await startServer({
      MODEL_DIR: model.dir,
      API_KEYS: sha256('ordinary-key'),
      ADMIN_API_KEYS: sha256(ADMIN_KEY),
      RATE_LIMIT_ENABLED: 'false',
    });
    try {
      const ordinary = await keyed.gql(RELOAD, undefined, { 'x-api-key': 'ordinary-key' });
      assert.equal(ordinary.body.errors?.[0].extensions?.code, 'FORBIDDEN');
      const admin = await keyed.gql(RELOAD, undefined, ADMIN);
      assert.equal(admin.status, 200);
      assert.equal(admin.body.errors, undefined);
      assert.equal(admin.body.data.reloadModel.version, original);
      assert.equal((await keyed.gql(RELOAD)).status, 401, 'no key at all is still UNAUTHENTICATED');
    } finally {
      await keyed.close();
    }
  });

  it('five reloads under predict and predictBatch load: no failed request, one version per batch', async () => {
    const before = await scrape(s.origin);
    const versions = [original];
    const replaced = [s.models.service()];
    let reloading = true;
    const answers: Array<{ kind: string; status: number; errors: unknown; versions: string[] }> = [];
    const client = async (c: number) => {
      for (let i = 0; reloading || i < 3; i++) {
        const batch = (c + i) % 2 === 0;
        const res = batch
          ? await s.gql(BATCH, { inputs: Array.from({ length: 20 }, () => NORMAL_READING) })
          : await s.gql(PREDICT, { input: NORMAL_READING });
        const data = res.body.data;
        answers.push({
          kind: batch ? 'batch' : 'single',
          status: res.status,
          errors: res.body.errors,
          versions: batch ? (data?.predictBatch ?? []).map((p: any) => p.modelVersion) : [data?.predict?.modelVersion],
        });
      }
    };
    const load = Array.from({ length: 6 }, (_, c) => client(c));
    for (let n = 1; n <= 5; n++) {
      const version = `${original}-reload-${n}`;
      model.json('model.json', (j) => (j.version = version));
      const { body } = await s.gql(RELOAD, undefined, ADMIN);
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      assert.equal(body.data.reloadModel.version, version);
      versions.push(version);
      replaced.push(s.models.service());
      await new Promise((r) => setTimeout(r, 100));
    }
    reloading = false;
    await Promise.all(load);

    assert.ok(answers.length >= 30, `only ${answers.length} requests ran during the reloads`);
    const failed = answers.filter((a) => a.status !== 200 || a.errors !== undefined);
    assert.deepEqual(failed, [], 'zero failed requests');
    for (const a of answers) {
      assert.equal(new Set(a.versions).size, 1, `one model version per answer, got ${a.versions.join(', ')}`);
      assert.ok(versions.includes(a.versions[0]), a.versions[0]);
    }
    const seen = new Set(answers.map((a) => a.versions[0]));
    assert.ok(seen.size >= 3, `answers came from ${seen.size} versions: the switch happened under load`);
    assert.equal(s.models.service().manifest.version, versions[5]);
    const current = replaced.pop()!;
    await until('every replaced session to be released', () => replaced.every((r) => r.closed), { everyMs: 10 });
    assert.equal(current.closed, false);
    const after = await scrape(s.origin);
    assert.equal(
      metricValue(after, 'pm_model_reloads_total', { outcome: 'ok' }) - metricValue(before, 'pm_model_reloads_total', { outcome: 'ok' }),
      5,
    );
    assert.equal(metricValue(after, 'pm_model_info', { version: versions[5], device: 'cpu' }), 1);
    assert.equal(metricValue(after, 'pm_model_info'), 1, 'only the serving model is reported');
    assert.equal(metricValue(after, 'pm_inference_queue_rows'), 0);
  });

  it('refuses a corrupt ONNX file, a model.json that does not match, and wrong golden outputs; the old model keeps serving', async () => {
    const serving = s.models.service().manifest.version;
    const before = await scrape(s.origin);
    const good = {
      json: readFileSync(path.join(model.dir, 'model.json')),
      onnx: readFileSync(path.join(model.dir, 'model.onnx')),
      golden: readFileSync(path.join(model.dir, 'golden.json')),
    };
    const restore = () => {
      writeFileSync(path.join(model.dir, 'model.json'), good.json);
      writeFileSync(path.join(model.dir, 'model.onnx'), good.onnx);
      writeFileSync(path.join(model.dir, 'golden.json'), good.golden);
    };
    const garbage = Buffer.from('this is not an ONNX graph'.repeat(100));
    const cases: Array<[string, () => void, RegExp]> = [
      [
        'corrupt ONNX file (hash in model.json not updated)',
        () => writeFileSync(path.join(model.dir, 'model.onnx'), garbage),
        /does not match model\.json/,
      ],
      [
        'corrupt ONNX file whose hash model.json does list',
        () => {
          writeFileSync(path.join(model.dir, 'model.onnx'), garbage);
          model.json('model.json', (j) => (j.onnx.sha256 = sha256(garbage)));
        },
        /cannot be loaded by onnxruntime/,
      ],
      [
        'model.json naming an input the graph does not have',
        () => model.json('model.json', (j) => (j.inputs.name = 'sensor_rows')),
        /expects input sensor_rows/,
      ],
      ['model.json with columns in another order', () => model.json('model.json', (j) => j.inputs.columns.reverse()), /inputs\.columns/],
      [
        'golden outputs the session does not reproduce',
        () => model.json('golden.json', (j) => (j.cases[0].probabilities = [0, 0, 0, 0, 0, 1])),
        /golden case/,
      ],
    ];
    for (const [name, breakIt, reason] of cases) {
      breakIt();
      const { body } = await s.gql(RELOAD, undefined, ADMIN);
      restore();
      assert.equal(body.errors?.[0].extensions?.code, 'MODEL_RELOAD_FAILED', name);
      assert.match(body.errors![0].message, reason, name);
      assert.equal(body.data, null);
      const check = await s.gql(PREDICT, { input: NORMAL_READING });
      assert.equal(check.body.data.predict.modelVersion, serving, `${name}: the old model keeps serving`);
    }
    const refusals = s.logs.lines.filter((l) => l.msg === 'model reload refused; the serving model is unchanged');
    assert.ok(refusals.length >= cases.length && refusals.every((l) => typeof l.reason === 'string' && l.reason.length > 0));
    const after = await scrape(s.origin);
    assert.equal(
      metricValue(after, 'pm_model_reloads_total', { outcome: 'refused' }) -
        metricValue(before, 'pm_model_reloads_total', { outcome: 'refused' }),
      cases.length,
    );
    assert.equal(metricValue(after, 'pm_model_info', { version: serving }), 1);
  });
});
