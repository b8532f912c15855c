// The prediction log (issue 21 item 3): Prediction.id is a UUIDv7; PREDICTION_LOG=file:PATH / redis
// records exactly the rows served, rotates, survives a sink outage with every record counted, and
// loses nothing on a graceful stop and at most the buffer on kill -9.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import pino from 'pino';
import { Registry } from 'prom-client';
import { freePort } from '../bench/lib/net';
import { ConfigError, loadConfig } from '../src/config';
import { ModelHost } from '../src/inference/model-host';
import { PredictionLog } from '../src/prediction-log/prediction-log';
import type { LoggedPrediction, PredictionRecord } from '../src/prediction-log/record';
import { UUID_V7, uuidv7, UuidV7Generator, uuidv7Time } from '../src/prediction-log/uuidv7';
import { metricValue } from './helpers/metrics';
import { MAIN, ServerProcess } from './helpers/process';
import { RedisProcess, redisSkipReason } from './helpers/redis';
import { NORMAL_READING, startServer, type TestServer } from './helpers/server';
import { until } from './helpers/wait';

const PREDICT = 'mutation P($input: SensorReadingInput!) { predict(input: $input) { id modelVersion predictedFailureType } }';
const BATCH = 'mutation B($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { id modelVersion } }';
/** Outside the training envelope in both temperatures (model.json min/max). */
const HOT = { ...NORMAL_READING, airTemperature: 310, processTemperature: 318 };
const KEY = 'prediction-log-test-key';
const KEY_HASH = createHash('sha256').update(KEY).digest('hex');

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'pm-predlog-'));
}

/**
 * The whole records in `file`. A live server may be mid-write when this reads (a reader can see part of a
 * write), so text after the last newline is not a record yet; the tests that need whole lines check the
 * file's end themselves.
 */
function lines(file: string): PredictionRecord[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PredictionRecord);
}

/** Sends `predicts` single predictions and batches of the given sizes; returns every answered id with its request id. */
async function traffic(
  s: TestServer,
  predicts: number,
  batches: number[],
  headers: Record<string, string> = {},
): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (let i = 0; i < predicts; i++) {
    const requestId = `req-p${i}`;
    const r = await s.gql(PREDICT, { input: i % 2 ? HOT : NORMAL_READING }, { ...headers, 'x-request-id': requestId });
    assert.equal(r.body.errors, undefined);
    ids.set(r.body.data.predict.id, requestId);
  }
  for (const [i, size] of batches.entries()) {
    const requestId = `req-b${i}`;
    const r = await s.gql(BATCH, { inputs: Array.from({ length: size }, () => NORMAL_READING) }, { ...headers, 'x-request-id': requestId });
    assert.equal(r.body.errors, undefined);
    for (const row of r.body.data.predictBatch) ids.set(row.id, requestId);
  }
  return ids;
}

describe('uuidv7', () => {
  it('is an RFC 9562 version 7 id carrying the current millisecond', () => {
    const before = Date.now();
    const id = uuidv7();
    const afterMs = Date.now();
    assert.match(id, UUID_V7);
    assert.ok(uuidv7Time(id) >= before && uuidv7Time(id) <= afterMs, `${uuidv7Time(id)} not in [${before}, ${afterMs}]`);
    let now = 0x0123_4567_89ab;
    const ids = new UuidV7Generator(() => now);
    assert.equal(uuidv7Time(ids.next()), 0x0123_4567_89ab);
    now += 1_000;
    assert.equal(ids.next().slice(0, 13), '01234567-8d93');
  });

  it('sorts in minting order: within one millisecond (past the 12-bit counter), and when the clock steps back', () => {
    let now = Date.now();
    const t = now;
    const gen = new UuidV7Generator(() => now);
    const ids = Array.from({ length: 5_000 }, () => gen.next());
    now = t - 5_000;
    ids.push(gen.next());
    now = t + 1;
    ids.push(gen.next());
    // 5,000 in one millisecond borrow at most two more; the clock stepping back keeps the last one.
    assert.ok(uuidv7Time(ids.at(-1)!) <= t + 3);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} !< ${ids[i]} at ${i}`);
    for (const id of ids) assert.match(id, UUID_V7);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('is unique across processes minting in the same milliseconds', () => {
    const script = `const { uuidv7 } = require(${JSON.stringify(path.resolve('dist/src/prediction-log/uuidv7.js'))});
      const out = []; for (let i = 0; i < 50000; i++) out.push(uuidv7()); process.stdout.write(out.join('\\n'));`;
    const runs = [0, 1, 2].map(() =>
      spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.split('\n'),
    );
    const all = runs.flat();
    assert.equal(all.length, 150_000);
    assert.equal(new Set(all).size, all.length);
  });
});

describe('PREDICTION_LOG configuration', () => {
  function refusal(env: Record<string, string>): ConfigError {
    try {
      loadConfig(env);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err;
    }
    assert.fail(`${JSON.stringify(env)} was accepted`);
  }

  it('reads the three forms and their settings', () => {
    const dir = tempDir();
    const file = loadConfig({
      PREDICTION_LOG: `file:${dir}/p.jsonl`,
      PREDICTION_LOG_MAX_BYTES: '8192',
      PREDICTION_LOG_BUFFER_RECORDS: '7',
    });
    assert.deepEqual(file.predictionLog, { sink: { kind: 'file', path: `${dir}/p.jsonl`, maxBytes: 8192 }, bufferRecords: 7 });
    const redis = loadConfig({
      PREDICTION_LOG: 'redis',
      PREDICTION_LOG_REDIS_URL: 'redis://cache:6379',
      PREDICTION_LOG_STREAM: 'plant-a:predictions',
      PREDICTION_LOG_MAX_RECORDS: '5000',
    });
    assert.deepEqual(redis.predictionLog.sink, {
      kind: 'redis',
      url: 'redis://cache:6379',
      stream: 'plant-a:predictions',
      maxRecords: 5000,
    });
    assert.deepEqual(loadConfig({ PREDICTION_LOG: 'OFF' }).predictionLog.sink, { kind: 'off' });
  });

  it('refuses a value of no known form, an unwritable path, and redis without a URL', () => {
    for (const bad of ['on', 'file:', 'files:/tmp/x', 'kafka']) {
      assert.match(refusal({ PREDICTION_LOG: bad }).message, /^Invalid configuration: PREDICTION_LOG: expected off, file:PATH or redis/);
    }
    assert.match(
      refusal({ PREDICTION_LOG: 'file:/no/such/dir/p.jsonl' }).message,
      /PREDICTION_LOG: cannot write \/no\/such\/dir\/p\.jsonl: ENOENT/,
    );
    const dir = tempDir();
    assert.match(refusal({ PREDICTION_LOG: `file:${dir}` }).message, /is a directory/);
    assert.match(refusal({ PREDICTION_LOG: 'redis' }).message, /PREDICTION_LOG: redis needs PREDICTION_LOG_REDIS_URL/);
    assert.match(
      refusal({ PREDICTION_LOG: 'redis', PREDICTION_LOG_REDIS_URL: 'cache:6379' }).message,
      /PREDICTION_LOG_REDIS_URL: expected redis:/,
    );
    assert.equal(refusal({ PREDICTION_LOG_MAX_BYTES: '100' }).variable, 'PREDICTION_LOG_MAX_BYTES');
    assert.equal(refusal({ PREDICTION_LOG_BUFFER_RECORDS: '0' }).variable, 'PREDICTION_LOG_BUFFER_RECORDS');
    assert.equal(refusal({ PREDICTION_LOG_MAX_RECORDS: 'many' }).variable, 'PREDICTION_LOG_MAX_RECORDS');
  });

  it('the server refuses to start with one line and exit code 2', () => {
    const readOnly = tempDir();
    chmodSync(readOnly, 0o500);
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ PREDICTION_LOG: 'stdout' }, /^Invalid configuration: PREDICTION_LOG: expected off, file:PATH or redis, got "stdout"\n$/],
      [{ PREDICTION_LOG: 'redis' }, /^Invalid configuration: PREDICTION_LOG: redis needs PREDICTION_LOG_REDIS_URL/],
    ];
    // root may write anywhere: the unwritable directory only refuses for other users.
    if (process.getuid?.() !== 0)
      cases.push([{ PREDICTION_LOG: `file:${readOnly}/p.jsonl` }, /^Invalid configuration: PREDICTION_LOG: cannot write .*: EACCES\n$/]);
    for (const [env, message] of cases) {
      const run = spawnSync(process.execPath, [MAIN], { env: { PATH: process.env.PATH, NODE_ENV: 'test', ...env }, encoding: 'utf8' });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split('\n').length, 1);
    }
  });
});

function sampleRow(): LoggedPrediction {
  return {
    id: uuidv7(),
    reading: NORMAL_READING,
    predictedFailureType: 'NO_FAILURE',
    probabilities: [{ failureType: 'NO_FAILURE', probability: 1 }],
    reconstructionError: 0.1,
    isAnomaly: false,
    modelVersion: 'v',
  };
}

describe('PredictionLog buffer', () => {
  it('drops and counts what does not fit the buffer, writes the rest, and drops after close', async () => {
    const dir = tempDir();
    const registry = new Registry();
    const config = loadConfig({ PREDICTION_LOG: `file:${dir}/p.jsonl`, PREDICTION_LOG_BUFFER_RECORDS: '10' }).predictionLog;
    const log = (await PredictionLog.create(config, pino({ level: 'silent' }), registry))!;
    const row = sampleRow;
    const entry = (n: number) => ({ requestId: 'r', role: 'primary' as const, rows: Array.from({ length: n }, row), outOfRange: () => [] });
    log.append(entry(6));
    log.append(entry(4));
    log.append(entry(1)); // 11 > 10: dropped whole
    assert.equal(log.buffered, 10);
    await log.close();
    log.append(entry(2));
    const text = await registry.metrics();
    assert.equal(metricValue(text, 'pm_prediction_log_records_total'), 10);
    assert.equal(metricValue(text, 'pm_prediction_log_dropped_total', { reason: 'buffer_full' }), 3);
    assert.equal(lines(`${dir}/p.jsonl`).length, 10);
  });

  it("ModelHost.close (the App's stop) writes out what is still buffered", async () => {
    const dir = tempDir();
    const config = loadConfig({ PREDICTION_LOG: `file:${dir}/p.jsonl` }).predictionLog;
    const host = new ModelHost();
    host.predictionLog = await PredictionLog.create(config, pino({ level: 'silent' }));
    const rows = Array.from({ length: 40 }, () => ({ ...sampleRow(), id: uuidv7() }));
    host.predictionLog!.append({ requestId: 'r', role: 'primary', rows, outOfRange: () => [] });
    // No turn of the event loop in between: only close can have written them.
    await host.close();
    assert.deepEqual(
      lines(`${dir}/p.jsonl`).map((r) => r.id),
      rows.map((r) => r.id),
    );
  });
});

describe('PREDICTION_LOG=file: the HTTP server', () => {
  let s: TestServer;
  let dir: string;
  before(async () => {
    dir = tempDir();
    s = await startServer({ PREDICTION_LOG: `file:${dir}/predictions.jsonl`, API_KEYS: KEY_HASH, RATE_LIMIT_MAX: '1000' });
  });
  after(() => s.close());

  it("holds exactly one line per row served by predict and predictBatch, with the answers' ids, and nothing of the caller", async () => {
    // API keys on: neither the key nor its hash may reach the log.
    const ids = await traffic(s, 7, [1, 25, 3], { 'x-api-key': KEY });
    const version = s.models.service().manifest.version;
    assert.equal(ids.size, 36);
    for (const id of ids.keys()) assert.match(id, UUID_V7);
    // An invalid batch and an unanswered predict are not rows served.
    const bad = await s.gql(BATCH, { inputs: [{ ...NORMAL_READING, torque: -1 }] }, { 'x-api-key': KEY });
    assert.equal(bad.body.errors?.[0].extensions?.code, 'BAD_USER_INPUT');
    await s.close();

    const records = lines(`${dir}/predictions.jsonl`);
    assert.equal(records.length, 36);
    assert.deepEqual(records.map((r) => r.id).sort(), [...ids.keys()].sort());
    for (const r of records) {
      assert.equal(r.requestId, ids.get(r.id));
      assert.equal(r.role, 'primary');
      assert.equal(r.modelVersion, version);
      assert.equal(Date.parse(r.time), uuidv7Time(r.id));
      assert.deepEqual(Object.keys(r.probabilities).sort(), [
        'HEAT_DISSIPATION_FAILURE',
        'NO_FAILURE',
        'OVERSTRAIN_FAILURE',
        'POWER_FAILURE',
        'RANDOM_FAILURES',
        'TOOL_WEAR_FAILURE',
      ]);
      assert.ok(Math.abs(Object.values(r.probabilities).reduce((a, b) => a + b, 0) - 1) < 1e-4);
      assert.equal(typeof r.reconstructionError, 'number');
      assert.equal(typeof r.isAnomaly, 'boolean');
      assert.deepEqual(Object.keys(r).sort(), [
        'id',
        'isAnomaly',
        'modelVersion',
        'outOfRange',
        'predictedFailureType',
        'probabilities',
        'reading',
        'reconstructionError',
        'requestId',
        'role',
        'time',
      ]);
    }
    const hot = records.filter((r) => r.reading.airTemperature === 310);
    assert.equal(hot.length, 3);
    for (const r of hot) assert.deepEqual(r.outOfRange, ['airTemperature', 'processTemperature']);
    const normal = records.find((r) => r.requestId === 'req-p0')!;
    assert.deepEqual(normal.reading, NORMAL_READING);
    assert.deepEqual(normal.outOfRange, []);
    const batch = records.filter((r) => r.requestId === 'req-b1');
    assert.equal(batch.length, 25);
    // Ids are time-ordered: a batch's ids are minted in row order, and records of one request are written in order.
    const batchIds = batch.map((r) => r.id);
    assert.deepEqual([...batchIds].sort(), batchIds);
    for (const text of readFileSync(`${dir}/predictions.jsonl`, 'utf8').split('\n')) {
      assert.doesNotMatch(text, /127\.0\.0\.1|x-api-key|apiKey|clientId/);
      assert.ok(!text.includes(KEY) && !text.includes(KEY_HASH));
    }
  });
});

describe('PREDICTION_LOG=file: rotation at PREDICTION_LOG_MAX_BYTES', () => {
  it('renames full files PATH.1, PATH.2, ... none past the limit, and every row is in exactly one file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'p.jsonl');
    const s = await startServer({ PREDICTION_LOG: `file:${file}`, PREDICTION_LOG_MAX_BYTES: '4096' });
    let ids: Map<string, string>;
    try {
      ids = await traffic(s, 5, [20, 20, 15]);
    } finally {
      await s.close();
    }
    const files = readdirSync(dir).sort();
    assert.ok(files.length >= 4, `rotated into ${files.join(', ')}`);
    assert.deepEqual(files, ['p.jsonl', ...Array.from({ length: files.length - 1 }, (_, i) => `p.jsonl.${i + 1}`)].sort());
    for (const f of files) assert.ok(statSync(path.join(dir, f)).size <= 4096, `${f} is ${statSync(path.join(dir, f)).size} bytes`);
    // Oldest first: PATH.1 .. PATH.n, then PATH; ids ascend across the files in that order.
    const ordered = [...Array.from({ length: files.length - 1 }, (_, i) => `p.jsonl.${i + 1}`), 'p.jsonl'];
    const all = ordered.flatMap((f) => lines(path.join(dir, f)).map((r) => r.id));
    assert.equal(all.length, 60);
    assert.deepEqual([...all].sort(), [...ids.keys()].sort());
    assert.deepEqual([...all].sort(), all, 'records across the rotated files are in time order');
  });
});

describe('PREDICTION_LOG=file: the process', () => {
  // Every server a test starts, killed at the end whatever happened: one left running (a test that failed
  // before its own stop) would keep this file's process, and so the whole run, from ever ending.
  const servers: ServerProcess[] = [];
  after(() => Promise.all(servers.map((s) => s.kill())));
  async function serve(env: Record<string, string>): Promise<{ server: ServerProcess; origin: string }> {
    const port = await freePort();
    const server = new ServerProcess({ PORT: String(port), RATE_LIMIT_ENABLED: 'false', ...env });
    servers.push(server);
    await server.waitFor('model ready');
    return { server, origin: `http://127.0.0.1:${port}` };
  }
  /** Rows answered, sequentially; stops at the first request the server no longer takes (it is shutting down). */
  async function send(origin: string, batches: number, size: number): Promise<number> {
    let rows = 0;
    for (let i = 0; i < batches; i++) {
      let body: any;
      try {
        const res = await fetch(`${origin}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: BATCH, variables: { inputs: Array.from({ length: size }, () => NORMAL_READING) } }),
        });
        body = await res.json();
      } catch {
        return rows; // refused: the listener is closed
      }
      if (body.errors !== undefined) {
        assert.equal(body.errors[0].extensions?.code, 'SERVER_BUSY');
        return rows;
      }
      rows += body.data.predictBatch.length;
    }
    return rows;
  }

  it('a graceful stop (SIGTERM) writes every row served before it exits', async () => {
    const file = path.join(tempDir(), 'p.jsonl');
    const started = await serve({ PREDICTION_LOG: `file:${file}` });
    const server = started.server;
    // Requests in flight when the signal arrives are answered during the drain: their rows count too.
    const load = Promise.all([send(started.origin, 30, 40), send(started.origin, 30, 40)]);
    await until('some rows served', () => lines(file).length > 0 || server.count('request') > 5, { everyMs: 5 });
    server.child.kill('SIGTERM');
    const served = (await load).reduce((a, b) => a + b, 0);
    const { code } = await server.exited;
    assert.equal(code, 0);
    assert.ok(served > 0);
    assert.equal(lines(file).length, served);
  });

  it('kill -9 loses at most PREDICTION_LOG_BUFFER_RECORDS, and never leaves half a line', async () => {
    const file = path.join(tempDir(), 'p.jsonl');
    const buffer = 100;
    const started = await serve({ PREDICTION_LOG: `file:${file}`, PREDICTION_LOG_BUFFER_RECORDS: String(buffer) });
    const server = started.server;
    const served = await send(started.origin, 40, 20);
    server.child.kill('SIGKILL');
    await server.exited;
    const text = readFileSync(file, 'utf8');
    assert.ok(text === '' || text.endsWith('\n'), 'the file ends with a whole line');
    const written = lines(file).length;
    assert.ok(written <= served && written >= served - buffer, `${written} of ${served} rows written`);
  });
});

describe('PREDICTION_LOG=redis', { skip: redisSkipReason() }, () => {
  let redis: RedisProcess;
  let client: Redis;
  before(async () => {
    redis = await RedisProcess.start();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100, lazyConnect: false });
    client.on('error', () => undefined);
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  it("XADDs one entry per row served to the stream; XRANGE gives back the answers' ids", async () => {
    const s = await startServer({
      PREDICTION_LOG: 'redis',
      PREDICTION_LOG_REDIS_URL: redis.url,
      PREDICTION_LOG_STREAM: 'test:predictions',
    });
    let ids: Map<string, string>;
    try {
      ids = await traffic(s, 4, [10, 6]);
    } finally {
      await s.close();
    }
    const entries = await client.xrange('test:predictions', '-', '+');
    assert.equal(entries.length, 20);
    const records = entries.map(([, fields]) => {
      assert.equal(fields[0], 'id');
      assert.equal(fields[2], 'record');
      const record = JSON.parse(fields[3]) as PredictionRecord;
      assert.equal(record.id, fields[1]);
      return record;
    });
    assert.deepEqual(records.map((r) => r.id).sort(), [...ids.keys()].sort());
    for (const r of records) assert.equal(r.requestId, ids.get(r.id));
  });

  it('Redis killed and restarted under traffic: records written + dropped = rows served, logged once each way, then resumes', async () => {
    const stream = 'test:outage';
    const s = await startServer({
      PREDICTION_LOG: 'redis',
      PREDICTION_LOG_REDIS_URL: redis.url,
      PREDICTION_LOG_STREAM: stream,
      PREDICTION_LOG_BUFFER_RECORDS: '50',
      RATE_LIMIT_ENABLED: 'false',
    });
    let served = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const r = await s.gql(BATCH, { inputs: Array.from({ length: 5 }, () => NORMAL_READING) });
        assert.equal(r.body.errors, undefined, 'predictions never fail for the log');
        served += r.body.data.predictBatch.length;
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    try {
      await until('rows served', () => served >= 100);
      await redis.stop();
      const atKill = served;
      await until('traffic while Redis is down', () => served >= atKill + 300);
      await redis.start();
      await s.logs.waitFor((l) => l.msg === 'prediction log sink back; writing resumed', 15_000);
      const atRestart = served;
      await until('traffic after Redis is back', () => served >= atRestart + 100);
      stop = true;
      await load;
    } finally {
      stop = true;
      await s.close();
    }
    const text = await s.app.metrics!.registry.metrics();
    const written = metricValue(text, 'pm_prediction_log_records_total');
    const dropped = ['buffer_full', 'sink_error', 'sink_down'].reduce(
      (sum, reason) => sum + metricValue(text, 'pm_prediction_log_dropped_total', { reason }),
      0,
    );
    assert.equal(written + dropped, served);
    assert.ok(dropped > 0, 'rows were dropped while Redis was down');
    assert.equal(s.logs.lines.filter((l) => l.msg === 'prediction log sink back; writing resumed').length, 1);
    assert.equal(s.logs.lines.filter((l) => String(l.msg).startsWith('prediction log sink unavailable')).length, 1);
    // The restarted Redis (no persistence) holds what was written after it came back.
    const after = await client.xlen(stream);
    assert.ok(after >= 100 && after <= written, `${after} entries after the restart, ${written} written in all`);
  });
});
