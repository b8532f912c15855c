import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../bench/lib/net';
import { ConfigError, loadConfig } from '../src/config';
import type { Reading } from '../src/inference/model-io';
import type { PredictionRecord } from '../src/prediction-log/record';
import { metricValue, scrape } from './helpers/metrics';
import { ServerProcess } from './helpers/process';
import { failRuns, holdRuns, NORMAL_READING, startServer, TEST_MODEL_DIR, type TestServer } from './helpers/server';
import { compareOffline, predictOffline, spreadReadings, variantModel } from './helpers/shadow-model';
import { until } from './helpers/wait';

const ADMIN_KEY = 'shadow-test-admin-key';
const ADMIN = { 'x-api-key': ADMIN_KEY };
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const BATCH = 'mutation B($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { modelVersion predictedFailureType } }';
const BATCH_IDS = 'mutation B($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { id } }';
const PREDICT_ID = 'mutation P($input: SensorReadingInput!) { predict(input: $input) { id } }';
const SHADOW =
  '{ modelInfo { version shadow { version rowsCompared agreement anomalyAgreement meanAbsProbabilityDelta disagreements { primary shadow rows } } } }';
const RELOAD = 'mutation R($promote: Boolean!) { reloadModel(promoteShadow: $promote) { version shadow { version rowsCompared } } }';

async function predictAll(s: TestServer, rows: readonly Reading[], chunk = 1_000): Promise<void> {
  for (let i = 0; i < rows.length; i += chunk) {
    const { body } = await s.gql(BATCH, { inputs: rows.slice(i, i + chunk) });
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.equal(body.data.predictBatch.length, Math.min(chunk, rows.length - i));
  }
}

async function shadowInfo(s: TestServer) {
  const { body } = await s.gql(SHADOW);
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data.modelInfo.shadow;
}

/** Waits until the shadow has compared or dropped every row it sampled. */
async function shadowSettled(s: TestServer): Promise<void> {
  const scorer = s.models.shadow();
  assert.ok(scorer, 'a shadow is loaded');
  await until('the shadow queue to empty', () => scorer.queuedRows === 0, { timeoutMs: 30_000, everyMs: 10 });
}

describe('shadow scoring: configuration', () => {
  it('reads SHADOW_MODEL_DIR and SHADOW_SAMPLE_RATE; off without the directory', () => {
    assert.equal(loadConfig({}).inference.shadow, undefined);
    assert.equal(loadConfig({ SHADOW_SAMPLE_RATE: '0.5' }).inference.shadow, undefined);
    assert.deepEqual(loadConfig({ SHADOW_MODEL_DIR: TEST_MODEL_DIR }).inference.shadow, {
      modelDir: path.resolve(TEST_MODEL_DIR),
      sampleRate: 1,
    });
    assert.equal(loadConfig({ SHADOW_MODEL_DIR: TEST_MODEL_DIR, SHADOW_SAMPLE_RATE: '.25' }).inference.shadow?.sampleRate, 0.25);
  });

  it('refuses a sample rate outside 0 < r <= 1 and a directory without model.json, naming the variable', () => {
    for (const rate of ['0', '1.5', '-0.1', 'abc', '1e-2', '0.1.2']) {
      assert.throws(
        () => loadConfig({ SHADOW_MODEL_DIR: TEST_MODEL_DIR, SHADOW_SAMPLE_RATE: rate }),
        (err: unknown) => err instanceof ConfigError && err.variable === 'SHADOW_SAMPLE_RATE',
        rate,
      );
    }
    const empty = mkdtempSync(path.join(os.tmpdir(), 'shadow-empty-'));
    try {
      assert.throws(
        () => loadConfig({ SHADOW_MODEL_DIR: empty }),
        (err: unknown) => err instanceof ConfigError && err.variable === 'SHADOW_MODEL_DIR' && /model\.json/.test(err.message),
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('the server refuses to start (exit 2, one line) with a bad rate, or a shadow that fails its checks', async () => {
    const broken = mkdtempSync(path.join(os.tmpdir(), 'shadow-broken-'));
    cpSync(TEST_MODEL_DIR, broken, { recursive: true });
    writeFileSync(path.join(broken, 'golden.json'), '{ "cases": [] }');
    try {
      for (const env of [{ SHADOW_MODEL_DIR: TEST_MODEL_DIR, SHADOW_SAMPLE_RATE: '2' }, { SHADOW_MODEL_DIR: broken }] as Array<
        Record<string, string>
      >) {
        const p = new ServerProcess({ PORT: '0', MODEL_DIR: TEST_MODEL_DIR, ...env });
        const { code } = await p.exited;
        assert.equal(code, 2, p.stderr);
        const lines = p.stderr.trim().split('\n');
        assert.equal(lines.length, 1, p.stderr);
        assert.match(
          lines[0],
          env.SHADOW_SAMPLE_RATE ? /^Invalid configuration: SHADOW_SAMPLE_RATE: / : /^Invalid configuration: SHADOW_MODEL_DIR: .*golden/,
        );
      }
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});

describe('shadow scoring: the same model as primary and shadow', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ SHADOW_MODEL_DIR: TEST_MODEL_DIR, RATE_LIMIT_ENABLED: 'false' });
  });
  after(() => s.close());

  it('compares every row (rate 1.0): agreement 1, delta 0, no disagreements; metrics by role', async () => {
    const before = await shadowInfo(s);
    assert.equal(before.rowsCompared, 0);
    assert.equal(before.version, s.models.service().manifest.version);
    const rows = spreadReadings(1_500, 11);
    await predictAll(s, rows);
    await shadowSettled(s);
    const info = await shadowInfo(s);
    assert.deepEqual(info, {
      version: s.models.service().manifest.version,
      rowsCompared: 1_500,
      agreement: 1,
      anomalyAgreement: 1,
      meanAbsProbabilityDelta: 0,
      disagreements: [],
    });
    const text = await scrape(s.origin);
    assert.equal(metricValue(text, 'pm_shadow_rows_total'), 1_500);
    assert.equal(metricValue(text, 'pm_shadow_disagreements_total'), 0);
    assert.equal(metricValue(text, 'pm_shadow_dropped_rows_total'), 0);
    assert.equal(metricValue(text, 'pm_model_info', { role: 'primary' }), 1);
    assert.equal(metricValue(text, 'pm_model_info', { role: 'shadow', version: info.version }), 1);
    // The shadow's runs are not the primary's: pm_inference_rows_total counts the callers' rows only.
    assert.equal(metricValue(text, 'pm_inference_rows_total'), 1_500);
  });

  it("an explanation's reference variants are not live rows: only the reading itself is compared", async () => {
    const before = (await shadowInfo(s)).rowsCompared;
    const { body } = await s.gql(
      'mutation P($input: SensorReadingInput!) { predict(input: $input) { modelVersion explanation { power drivers { effect } } } }',
      { input: NORMAL_READING },
    );
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    await shadowSettled(s);
    assert.equal((await shadowInfo(s)).rowsCompared, before + 1);
  });

  it("hands each shadow run to the listener (the prediction log's hook): rows, the shadow's answers, its version", async () => {
    const seen: Array<{ rows: number; outputs: number; version: string; first: unknown }> = [];
    s.models.onShadowScored((rows, outputs, version) =>
      seen.push({ rows: rows.length, outputs: outputs.length, version, first: { ...rows[0] } }),
    );
    try {
      await predictAll(s, [NORMAL_READING, { ...NORMAL_READING, torque: 60 }]);
      await shadowSettled(s);
      assert.deepEqual(seen, [{ rows: 2, outputs: 2, version: s.models.shadow()!.version, first: NORMAL_READING }]);
    } finally {
      s.models.onShadowScored(undefined);
    }
  });
});

describe('shadow scoring: a different model', () => {
  let variant: string;
  let s: TestServer;
  before(async () => {
    // Tool-wear logit raised and the anomaly threshold halved: failure types and anomaly flags both differ.
    variant = await variantModel(TEST_MODEL_DIR, 4, 3, 0.5);
    s = await startServer({ SHADOW_MODEL_DIR: variant, RATE_LIMIT_ENABLED: 'false', ADMIN_API_KEYS: sha256(ADMIN_KEY) });
  });
  after(async () => {
    await s.close();
    rmSync(variant, { recursive: true, force: true });
  });

  it('counts exactly the disagreements an offline comparison of the two models finds on the same rows', async () => {
    const rows = spreadReadings(2_000, 3);
    await predictAll(s, rows);
    await shadowSettled(s);
    const offline = await compareOffline(TEST_MODEL_DIR, variant, rows);
    assert.ok(offline.pairs.size >= 1 && offline.same < rows.length, 'the variant answers differently on some rows');
    assert.ok(offline.sameAnomaly < rows.length, 'the variant flags anomalies differently on some rows');
    const info = await shadowInfo(s);
    assert.equal(info.version, s.models.shadow()!.version);
    assert.notEqual(info.version, s.models.service().manifest.version);
    assert.equal(info.rowsCompared, rows.length);
    assert.equal(info.agreement, offline.same / rows.length);
    assert.equal(info.anomalyAgreement, offline.sameAnomaly / rows.length);
    assert.ok(Math.abs(info.meanAbsProbabilityDelta - offline.deltaSum / rows.length) < 1e-9, `${info.meanAbsProbabilityDelta}`);
    const pairs = new Map<string, number>(info.disagreements.map((d: any) => [`${d.primary}>${d.shadow}`, d.rows]));
    assert.deepEqual(pairs, offline.pairs);
    const counts = info.disagreements.map((d: any) => d.rows);
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => b - a),
      'most rows first',
    );

    const text = await scrape(s.origin);
    assert.equal(metricValue(text, 'pm_shadow_rows_total'), rows.length);
    for (const [key, n] of offline.pairs) {
      const [primary, shadow] = key.split('>');
      assert.equal(metricValue(text, 'pm_shadow_disagreements_total', { primary, shadow }), n, key);
    }
    assert.equal(metricValue(text, 'pm_shadow_disagreements_total'), rows.length - offline.same);
  });

  it('reloadModel reloads both models and starts the statistics again', async () => {
    const { body } = await s.gql(RELOAD, { promote: false }, ADMIN);
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.equal(body.data.reloadModel.shadow.rowsCompared, 0);
    assert.equal(body.data.reloadModel.shadow.version, s.models.shadow()!.version);
    await predictAll(s, spreadReadings(10, 5));
    await shadowSettled(s);
    assert.equal((await shadowInfo(s)).rowsCompared, 10);
  });

  it('promotes the shadow under load: zero failed requests, one version per answer, the old session released', async () => {
    const primary = s.models.service();
    const shadowVersion = s.models.shadow()!.version;
    const versions = new Set<string>();
    let failures = 0;
    let answers = 0;
    let stop = false;
    const rows = spreadReadings(40, 9);
    const load = async () => {
      while (!stop) {
        const { body } = await s.gql(BATCH, { inputs: rows });
        if (body.errors || body.data?.predictBatch?.length !== rows.length) {
          failures++;
          continue;
        }
        const inAnswer = new Set<string>(body.data.predictBatch.map((p: any) => p.modelVersion));
        assert.equal(inAnswer.size, 1, 'one version per answer');
        versions.add([...inAnswer][0]);
        answers++;
      }
    };
    const loops = Array.from({ length: 6 }, load);
    await until('traffic flowing', () => answers >= 12, { timeoutMs: 20_000 });
    const { body } = await s.gql(RELOAD, { promote: true }, ADMIN);
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.deepEqual(body.data.reloadModel, { version: shadowVersion, shadow: null });
    const afterSwitch = answers;
    await until('traffic on the promoted model', () => answers >= afterSwitch + 12, { timeoutMs: 20_000 });
    stop = true;
    await Promise.all(loops);
    assert.equal(failures, 0);
    assert.deepEqual(versions, new Set([primary.manifest.version, shadowVersion]));
    assert.equal(s.models.service().manifest.version, shadowVersion);
    assert.equal(s.models.shadow(), undefined);
    await until('the old primary session released', () => primary.closed, { timeoutMs: 10_000 });
    assert.equal(await shadowInfo(s), null);
    const text = await scrape(s.origin);
    assert.equal(metricValue(text, 'pm_model_info', { role: 'primary', version: shadowVersion }), 1);
    assert.equal(metricValue(text, 'pm_model_info', { role: 'shadow' }), 0);
    assert.equal(metricValue(text, 'pm_model_info'), 1);

    // Nothing left to promote; a plain reload now reloads the promoted model's directory, with no shadow.
    const again = await s.gql(RELOAD, { promote: true }, ADMIN);
    assert.equal(again.body.errors?.[0].extensions?.code, 'MODEL_RELOAD_FAILED');
    assert.match(again.body.errors![0].message, /no shadow model to promote/);
    const plain = await s.gql(RELOAD, { promote: false }, ADMIN);
    assert.deepEqual(plain.body.data.reloadModel, { version: shadowVersion, shadow: null });
  });

  it('promotion needs an admin key', async () => {
    const { body } = await s.gql(RELOAD, { promote: true });
    assert.equal(body.errors?.[0].extensions?.code, 'FORBIDDEN');
  });
});

describe('shadow scoring: the prediction log', () => {
  let variant: string;
  let dir: string;
  let s: TestServer;
  before(async () => {
    variant = await variantModel(TEST_MODEL_DIR, 4, 3, 0.5);
    dir = mkdtempSync(path.join(os.tmpdir(), 'pm-shadow-log-'));
    s = await startServer({
      SHADOW_MODEL_DIR: variant,
      PREDICTION_LOG: `file:${dir}/predictions.jsonl`,
      RATE_LIMIT_ENABLED: 'false',
      ADMIN_API_KEYS: sha256(ADMIN_KEY),
    });
  });
  after(async () => {
    await s.close();
    rmSync(variant, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it("records the shadow's answers beside the primary's under the same ids; a promoted model's answers are logged as primary", async () => {
    const primaryVersion = s.models.service().manifest.version;
    const shadowVersion = s.models.shadow()!.version;
    const rows = spreadReadings(300, 13);
    const batch = await s.gql(BATCH_IDS, { inputs: rows }, { 'x-request-id': 'req-batch' });
    assert.equal(batch.body.errors, undefined, JSON.stringify(batch.body.errors));
    const single = await s.gql(PREDICT_ID, { input: rows[0] }, { 'x-request-id': 'req-one' });
    assert.equal(single.body.errors, undefined, JSON.stringify(single.body.errors));
    await shadowSettled(s);
    const promoted = await s.gql(RELOAD, { promote: true }, ADMIN);
    assert.equal(promoted.body.errors, undefined, JSON.stringify(promoted.body.errors));
    const afterPromotion = await s.gql(BATCH_IDS, { inputs: rows.slice(0, 20) }, { 'x-request-id': 'req-promoted' });
    assert.equal(afterPromotion.body.errors, undefined, JSON.stringify(afterPromotion.body.errors));
    await s.close();

    const records = readFileSync(`${dir}/predictions.jsonl`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as PredictionRecord);
    const primary = records.filter((r) => r.role === 'primary');
    const shadow = records.filter((r) => r.role === 'shadow');
    assert.equal(primary.length, 321);
    assert.equal(shadow.length, 301);
    // Every row the shadow scored joins its primary record by id, request and reading; the shadow's answer is
    // the shadow model's own (offline, row by row), with its version.
    const batchIds: string[] = batch.body.data.predictBatch.map((p: { id: string }) => p.id);
    const expected = await predictOffline(variant, [...rows, rows[0]]);
    const ids = [...batchIds, single.body.data.predict.id as string];
    const byId = new Map(shadow.map((r) => [r.id, r]));
    assert.equal(byId.size, 301);
    for (const [i, id] of ids.entries()) {
      const r = byId.get(id);
      assert.ok(r, `shadow record for row ${i}`);
      const p = primary.find((x) => x.id === id)!;
      assert.equal(p.modelVersion, primaryVersion);
      assert.equal(r.modelVersion, shadowVersion);
      assert.equal(r.requestId, i < 300 ? 'req-batch' : 'req-one');
      assert.equal(r.requestId, p.requestId);
      assert.deepEqual(r.reading, p.reading);
      assert.deepEqual(r.outOfRange, p.outOfRange);
      assert.equal(r.predictedFailureType, expected[i].predictedFailureType, `row ${i}`);
      assert.equal(r.isAnomaly, expected[i].isAnomaly, `row ${i}`);
      for (const q of expected[i].probabilities) assert.ok(Math.abs(r.probabilities[q.failureType] - q.probability) < 1e-6);
    }
    assert.ok(
      shadow.some((r) => r.predictedFailureType !== primary.find((x) => x.id === r.id)!.predictedFailureType),
      'the two models disagree on some rows, so the records are not copies of the primary',
    );
    const late = primary.filter((r) => r.requestId === 'req-promoted');
    assert.equal(late.length, 20);
    for (const r of late) assert.equal(r.modelVersion, shadowVersion);
    assert.equal(shadow.filter((r) => r.requestId === 'req-promoted').length, 0, 'no shadow remains after the promotion');
  });
});

describe('shadow scoring: sampling, a slow or failing shadow, a shadow refused at reload', () => {
  it('rate 0.1 over 10,000 rows compares 1,000 +- 3 sigma rows', async () => {
    const s = await startServer({ SHADOW_MODEL_DIR: TEST_MODEL_DIR, SHADOW_SAMPLE_RATE: '0.1', RATE_LIMIT_ENABLED: 'false' });
    try {
      await predictAll(s, spreadReadings(10_000, 21));
      await shadowSettled(s);
      const info = await shadowInfo(s);
      const sigma = Math.sqrt(10_000 * 0.1 * 0.9); // 30
      assert.ok(Math.abs(info.rowsCompared - 1_000) <= 3 * sigma, `${info.rowsCompared} rows compared`);
      assert.equal(info.agreement, 1);
      assert.equal(metricValue(await scrape(s.origin), 'pm_shadow_dropped_rows_total'), 0);
    } finally {
      await s.close();
    }
  });

  it('a shadow slower than the traffic drops and counts rows beyond its queue bound; callers never wait for it', async () => {
    const s = await startServer({
      SHADOW_MODEL_DIR: TEST_MODEL_DIR,
      RATE_LIMIT_ENABLED: 'false',
      MAX_QUEUE_ROWS: '2000',
      MAX_QUEUE_WAIT_MS: '600000',
      MAX_BATCH_SIZE: '1000',
    });
    try {
      const shadow = s.models.shadow()!;
      const held = holdRuns(shadow.service);
      // 5,000 rows while the shadow's first run is held: 2,000 queue (MAX_QUEUE_ROWS), 3,000 are dropped.
      await predictAll(s, spreadReadings(1_000, 1));
      await held.firstRun;
      await predictAll(s, spreadReadings(4_000, 2));
      const text = await scrape(s.origin);
      assert.equal(metricValue(text, 'pm_shadow_dropped_rows_total', { reason: 'queue_full' }), 3_000);
      assert.equal(metricValue(text, 'pm_inference_rows_total'), 5_000, 'every caller was answered by the primary');
      held.release();
      await shadowSettled(s);
      assert.equal((await shadowInfo(s)).rowsCompared, 2_000);
    } finally {
      await s.close();
    }
  });

  it('rows waiting in the shadow past MAX_QUEUE_WAIT_MS are dropped and counted as deadline', async () => {
    const s = await startServer({
      SHADOW_MODEL_DIR: TEST_MODEL_DIR,
      RATE_LIMIT_ENABLED: 'false',
      MAX_QUEUE_WAIT_MS: '200',
      MAX_BATCH_SIZE: '1000',
    });
    try {
      const shadow = s.models.shadow()!;
      const held = holdRuns(shadow.service);
      await predictAll(s, spreadReadings(1_000, 1));
      await held.firstRun;
      await predictAll(s, spreadReadings(500, 2));
      await until('deadline drops', () => shadow.droppedRows().deadline === 500, { timeoutMs: 10_000 });
      held.release();
      await shadowSettled(s);
      assert.equal(metricValue(await scrape(s.origin), 'pm_shadow_dropped_rows_total', { reason: 'deadline' }), 500);
      assert.equal((await shadowInfo(s)).rowsCompared, 1_000);
    } finally {
      await s.close();
    }
  });

  it('a failing shadow never fails a caller: its rows are counted as failed', async () => {
    const s = await startServer({ SHADOW_MODEL_DIR: TEST_MODEL_DIR, RATE_LIMIT_ENABLED: 'false' });
    try {
      failRuns(s.models.shadow()!.service, 'shadow boom');
      await predictAll(s, spreadReadings(300, 4));
      await shadowSettled(s);
      assert.equal(metricValue(await scrape(s.origin), 'pm_shadow_dropped_rows_total', { reason: 'failed' }), 300);
      assert.equal((await shadowInfo(s)).rowsCompared, 0);
    } finally {
      await s.close();
    }
  });

  it('a shadow failing its checks at a reload is dropped with MODEL_RELOAD_FAILED naming it; the primary keeps serving', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shadow-reload-'));
    cpSync(TEST_MODEL_DIR, dir, { recursive: true });
    const s = await startServer({ SHADOW_MODEL_DIR: dir, RATE_LIMIT_ENABLED: 'false', ADMIN_API_KEYS: sha256(ADMIN_KEY) });
    try {
      const oldShadow = s.models.shadow()!.service;
      writeFileSync(path.join(dir, 'golden.json'), '{ "cases": [] }');
      const { body } = await s.gql(RELOAD, { promote: false }, ADMIN);
      const err = body.errors?.[0];
      assert.equal(err?.extensions?.code, 'MODEL_RELOAD_FAILED');
      assert.equal(err?.extensions?.model, 'shadow');
      assert.equal(err?.extensions?.servingVersion, s.models.service().manifest.version);
      assert.match(err!.message, /shadow model \(SHADOW_MODEL_DIR\) failed its checks and was dropped: .*golden/);
      assert.equal(await shadowInfo(s), null);
      await predictAll(s, [NORMAL_READING]);
      await until('the dropped shadow session released', () => oldShadow.closed, { timeoutMs: 10_000 });
      const text = await scrape(s.origin);
      assert.equal(metricValue(text, 'pm_model_info', { role: 'shadow' }), 0);
      assert.equal(metricValue(text, 'pm_model_reloads_total', { outcome: 'refused' }), 1);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('shadow scoring: WORKERS=2', () => {
  let server: ServerProcess | undefined;
  after(() => server?.kill());

  it("sums every worker's comparisons; SIGHUP reloads both models in every worker and starts them again", async () => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    server = new ServerProcess({ WORKERS: '2', PORT: String(port), SHADOW_MODEL_DIR: TEST_MODEL_DIR, RATE_LIMIT_ENABLED: 'false' });
    await server.waitFor('worker ready', 2);
    const post = (query: string, variables?: unknown) =>
      fetch(`${origin}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ query, variables }),
      }).then(async (r) => (await r.json()) as any);
    const answers = await Promise.all(Array.from({ length: 40 }, () => post(BATCH, { inputs: [NORMAL_READING] })));
    assert.ok(answers.every((a) => a.errors === undefined));
    const compared = async () => (await post(SHADOW)).data.modelInfo.shadow.rowsCompared as number;
    await until('40 rows compared over both workers', async () => (await compared()) === 40, { timeoutMs: 10_000 });
    // Whichever worker answers, it reports both workers' rows.
    for (let i = 0; i < 4; i++) assert.equal(await compared(), 40);
    assert.equal(metricValue(await scrape(origin), 'pm_shadow_rows_total'), 40);
    server.child.kill('SIGHUP');
    await server.waitFor('model reloaded', 2);
    for (let i = 0; i < 4; i++) assert.equal(await compared(), 0);
  });
});
