// The prediction log's buffer and sinks without a server (src/prediction-log/prediction-log.ts, sinks.ts):
// a fake sink whose writes the test releases one by one, the file sink in a temporary directory, and
// the Redis sink on a throw-away redis-server. The server-level behaviour is test/prediction-log.test.ts.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { freePort } from '../bench/lib/net';
import { loadConfig } from '../src/config';
import { PredictionLog } from '../src/prediction-log/prediction-log';
import type { LoggedPrediction, PredictionLogEntry, PredictionRecord } from '../src/prediction-log/record';
import { FileWriter, RedisWriter, type SinkWriter } from '../src/prediction-log/sinks';
import { uuidv7 } from '../src/prediction-log/uuidv7';
import { metricValue } from './helpers/metrics';
import { NORMAL_READING } from './helpers/readings';
import { RedisProcess, redisSkipReason } from './helpers/redis';
import { until } from './helpers/wait';

/** A sink whose writes wait for `release()` while `hold` is set; `answer` decides what a write returns. */
class FakeSink implements SinkWriter {
  readonly kind = 'file';
  available = true;
  hold = false;
  answer: (records: readonly PredictionRecord[]) => number | Error = (records) => records.length;
  readonly batches: PredictionRecord[][] = [];
  closes = 0;
  closeFails = false;
  private readonly gates: Array<() => void> = [];

  async write(records: readonly PredictionRecord[]): Promise<number> {
    this.batches.push([...records]);
    if (this.hold) await new Promise<void>((resolve) => this.gates.push(resolve));
    const out = this.answer(records);
    if (out instanceof Error) throw out;
    return out;
  }

  release(): void {
    this.gates.shift()?.();
  }

  async close(): Promise<void> {
    this.closes++;
    if (this.closeFails) throw new Error('close failed');
  }
}

interface Logged {
  level: 'info' | 'error';
  fields: Record<string, unknown>;
  msg: string;
}

function fakeLogger(): { logger: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: Logged['level']) => (fields: Record<string, unknown>, msg: string) => lines.push({ level, fields, msg });
  return { logger: { info: at('info'), error: at('error') } as unknown as Logger, lines };
}

function setup(bufferRecords = 100) {
  const sink = new FakeSink();
  const registry = new Registry();
  const { logger, lines } = fakeLogger();
  const log = PredictionLog.withWriter(sink, bufferRecords, logger, registry);
  const metric = async (name: string, reason?: string) => metricValue(await registry.metrics(), name, reason ? { reason } : {});
  return { sink, log, lines, metric, registry };
}

function row(modelVersion = 'v1'): LoggedPrediction {
  return {
    id: uuidv7(),
    reading: NORMAL_READING,
    predictedFailureType: 'NO_FAILURE',
    probabilities: [
      { failureType: 'NO_FAILURE', probability: 0.75 },
      { failureType: 'POWER_FAILURE', probability: 0.25 },
    ],
    reconstructionError: 0.5,
    isAnomaly: false,
    modelVersion,
  };
}

function entry(n: number, requestId = 'r', extra: Partial<PredictionLogEntry> = {}): PredictionLogEntry {
  return { requestId, role: 'primary', rows: Array.from({ length: n }, () => row()), outOfRange: () => [], ...extra };
}

/** One turn of the event loop (the log flushes from a setImmediate), twice: a write's `finally` runs in between. */
const turn = async () => {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
};

describe('PredictionLog: batches', () => {
  it('writes the calls of one turn as one batch in order, and what arrives during a write as the next one', async () => {
    const { sink, log, metric } = setup();
    sink.hold = true;
    const a = entry(2, 'a');
    const b = entry(3, 'b');
    log.append(a);
    log.append(b);
    assert.equal(sink.batches.length, 0, 'nothing is written on the request path');
    assert.equal(log.buffered, 5);
    await turn();
    assert.equal(sink.batches.length, 1);
    assert.deepEqual(
      sink.batches[0].map((r) => [r.id, r.requestId]),
      [...a.rows.map((r) => [r.id, 'a']), ...b.rows.map((r) => [r.id, 'b'])],
    );
    const c = entry(1, 'c');
    log.append(c);
    await turn();
    assert.equal(sink.batches.length, 1, 'one batch in flight at a time');
    assert.equal(log.buffered, 6, 'waiting and in-flight records both count');
    sink.release();
    await turn();
    assert.equal(sink.batches.length, 2);
    assert.deepEqual(
      sink.batches[1].map((r) => r.id),
      c.rows.map((r) => r.id),
    );
    sink.release();
    await turn();
    assert.equal(log.buffered, 0);
    assert.equal(await metric('pm_prediction_log_records_total'), 6);
    await log.close();
  });

  it('builds each record from its entry and row: role, request, trace, answer, out-of-range fields', async () => {
    const { sink, log } = setup();
    const r = row('v7');
    log.append({
      requestId: 'req-1',
      role: 'primary',
      traceId: 'trace-1',
      rows: [r],
      outOfRange: () => [{ field: 'torque', value: 1, min: 2, max: 3 }] as never,
    });
    await turn();
    const [record] = sink.batches[0];
    assert.equal(record.id, r.id);
    assert.equal(record.requestId, 'req-1');
    assert.equal(record.role, 'primary');
    assert.equal(record.traceId, 'trace-1');
    assert.equal(record.modelVersion, 'v7');
    assert.deepEqual(record.probabilities, { NO_FAILURE: 0.75, POWER_FAILURE: 0.25 });
    assert.deepEqual(record.outOfRange, ['torque']);
    await log.close();
  });
});

describe('PredictionLog: the buffer bound', () => {
  it('counts in-flight records against PREDICTION_LOG_BUFFER_RECORDS: a call that does not fit is dropped whole', async () => {
    const { sink, log, metric } = setup(5);
    sink.hold = true;
    log.append(entry(3));
    await turn();
    assert.equal(sink.batches.length, 1);
    log.append(entry(2));
    assert.equal(log.buffered, 5, 'exactly the bound fits');
    log.append(entry(1));
    assert.equal(log.buffered, 5);
    assert.equal(await metric('pm_prediction_log_dropped_total', 'buffer_full'), 1);
    sink.release();
    await turn();
    sink.release();
    await turn();
    assert.equal(log.buffered, 0);
    log.append(entry(5));
    assert.equal(log.buffered, 5, 'written records free the buffer');
    sink.release();
    await turn();
    assert.equal(await metric('pm_prediction_log_records_total'), 5);
    sink.hold = false;
    sink.release();
    await log.close();
    assert.equal(await metric('pm_prediction_log_records_total'), 10);
    assert.equal(await metric('pm_prediction_log_dropped_total'), 1);
  });

  it('exports both counters from the start, every drop reason at 0', async () => {
    const { registry } = setup();
    const text = await registry.metrics();
    for (const reason of ['buffer_full', 'sink_error', 'sink_down']) {
      assert.match(text, new RegExp(`pm_prediction_log_dropped_total\\{reason="${reason}"\\} 0`));
    }
    assert.match(text, /pm_prediction_log_records_total 0/);
  });
});

describe('PredictionLog: a failing sink', () => {
  it('counts what the sink did not store as sink_error, and logs the sink down once and back once', async () => {
    const { sink, log, lines, metric } = setup();
    sink.answer = (records) => records.length - 1;
    log.append(entry(4));
    await turn();
    assert.equal(await metric('pm_prediction_log_records_total'), 3);
    assert.equal(await metric('pm_prediction_log_dropped_total', 'sink_error'), 1);
    assert.equal(lines.length, 0, 'a partial write is not an outage');

    sink.answer = () => new Error('READONLY replica');
    log.append(entry(2));
    await turn();
    log.append(entry(3));
    await turn();
    assert.equal(await metric('pm_prediction_log_dropped_total', 'sink_error'), 6);
    assert.deepEqual(
      lines.map((l) => [l.level, l.fields]),
      [['error', { sink: 'file', reason: 'READONLY replica' }]],
    );
    assert.match(lines[0].msg, /unavailable/);

    sink.answer = (records) => records.length;
    log.append(entry(1));
    await turn();
    log.append(entry(1));
    await turn();
    assert.equal(await metric('pm_prediction_log_records_total'), 5);
    assert.deepEqual(
      lines.map((l) => [l.level, l.fields]),
      [
        ['error', { sink: 'file', reason: 'READONLY replica' }],
        ['info', { sink: 'file' }],
      ],
    );
    assert.match(lines[1].msg, /back/);
    await log.close();
  });

  it('keeps records while the sink is unavailable and tries it again every 250 ms', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { sink, log, metric } = setup();
      sink.available = false;
      log.append(entry(2));
      await turn();
      assert.equal(sink.batches.length, 0);
      assert.equal(log.buffered, 2);
      mock.timers.tick(250);
      await turn();
      assert.equal(sink.batches.length, 0, 'still down: still waiting');
      sink.available = true;
      mock.timers.tick(249);
      await turn();
      assert.equal(sink.batches.length, 0, 'not before the retry interval');
      mock.timers.tick(1);
      await turn();
      assert.equal(sink.batches.length, 1);
      assert.equal(await metric('pm_prediction_log_records_total'), 2);
      await log.close();
    } finally {
      mock.timers.reset();
    }
  });

  it('keeps one retry timer: appends while the sink is down do not bring the next try forward', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { sink, log } = setup();
      sink.available = false;
      log.append(entry(1));
      await turn();
      mock.timers.tick(100);
      log.append(entry(1));
      await turn();
      mock.timers.tick(150);
      await turn();
      // The try at 250 ms found the sink still down and set the next one 250 ms later, at 500 ms.
      sink.available = true;
      mock.timers.tick(249);
      await turn();
      assert.equal(sink.batches.length, 0, 'no second timer from the append at 100 ms (it would fire at 350 ms)');
      mock.timers.tick(1);
      await turn();
      assert.deepEqual(
        sink.batches.map((b) => b.length),
        [2],
      );
      await log.close();
    } finally {
      mock.timers.reset();
    }
  });
});

describe('PredictionLog: close', () => {
  it('writes what is buffered before releasing the sink; appends after it are dropped; a second close does nothing', async () => {
    const { sink, log, metric } = setup();
    log.append(entry(3));
    await log.close();
    await turn();
    assert.deepEqual(
      sink.batches.map((b) => b.length),
      [3],
      'the flush scheduled by the append finds nothing left: no write to a closed sink',
    );
    assert.equal(sink.closes, 1);
    log.append(entry(2));
    assert.equal(await metric('pm_prediction_log_dropped_total', 'buffer_full'), 2);
    assert.equal(log.buffered, 0);
    await log.close();
    assert.equal(sink.closes, 1);
  });

  it('waits for the batch in flight, then writes what arrived meanwhile', async () => {
    const { sink, log, metric } = setup();
    sink.hold = true;
    log.append(entry(2));
    await turn();
    log.append(entry(1));
    let closed = false;
    const closing = log.close().then(() => (closed = true));
    sink.release();
    await turn();
    assert.equal(sink.batches.length, 2);
    assert.equal(closed, false, 'close waits for the last batch too');
    assert.equal(sink.closes, 0, 'the sink is not released under a write');
    sink.release();
    await closing;
    assert.equal(await metric('pm_prediction_log_records_total'), 3);
    assert.equal(sink.closes, 1);
  });

  it('drops what waits as sink_down when the sink is unavailable at close, and survives a failing sink close', async () => {
    const { sink, log, metric } = setup();
    sink.available = false;
    sink.closeFails = true;
    log.append(entry(4));
    await log.close();
    assert.equal(sink.batches.length, 0);
    assert.equal(await metric('pm_prediction_log_dropped_total', 'sink_down'), 4);
    assert.equal(log.buffered, 0);
    assert.equal(sink.closes, 1);
  });
});

describe('PredictionLog: shadow answers', () => {
  const shadowOf = (r: LoggedPrediction) => ({
    reading: r.reading,
    predictedFailureType: 'POWER_FAILURE',
    probabilities: [{ failureType: 'POWER_FAILURE', probability: 1 }],
    reconstructionError: 2,
    isAnomaly: true,
    modelVersion: 'ignored',
  });

  it("logs a shadow's answers under each primary row's id and request, leaving out rows never appended", async () => {
    const { sink, log } = setup();
    log.joinShadowAnswers = true;
    const a = entry(2, 'a', { traceId: 'ta' });
    const b = entry(1, 'b');
    log.append(a);
    log.append(b);
    const stray = row();
    const primary = [a.rows[0], stray, a.rows[1], b.rows[0]];
    log.appendShadow(primary, primary.map(shadowOf), 'v2');
    await turn();
    const shadow = sink.batches[0].filter((r) => r.role === 'shadow');
    assert.deepEqual(
      shadow.map((r) => [r.id, r.requestId, r.traceId, r.modelVersion, r.predictedFailureType, r.isAnomaly, r.reconstructionError]),
      [
        [a.rows[0].id, 'a', 'ta', 'v2', 'POWER_FAILURE', true, 2],
        [a.rows[1].id, 'a', 'ta', 'v2', 'POWER_FAILURE', true, 2],
        [b.rows[0].id, 'b', undefined, 'v2', 'POWER_FAILURE', true, 2],
      ],
    );
    assert.deepEqual(shadow[0].probabilities, { POWER_FAILURE: 1 });
    assert.equal(sink.batches[0].length, 6);
    await log.close();
  });

  it('joins nothing unless a shadow model is paired (joinShadowAnswers), and never joins to shadow records', async () => {
    const { sink, log } = setup();
    const a = entry(2, 'a');
    log.append(a);
    log.appendShadow(a.rows, a.rows.map(shadowOf), 'v2');
    log.joinShadowAnswers = true;
    const s = entry(1, 's', { role: 'shadow' });
    log.append(s);
    log.appendShadow(s.rows, s.rows.map(shadowOf), 'v3');
    await turn();
    assert.deepEqual(
      sink.batches[0].map((r) => [r.requestId, r.role]),
      [
        ['a', 'primary'],
        ['a', 'primary'],
        ['s', 'shadow'],
      ],
    );
    await log.close();
  });
});

describe('PredictionLog.create', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pm-predlog-unit-'));

  it('is undefined for PREDICTION_LOG=off', async () => {
    const config = loadConfig({ PREDICTION_LOG: 'off' }).predictionLog;
    assert.equal(await PredictionLog.create(config, fakeLogger().logger), undefined);
  });

  it('gives each cluster worker a file of its own and says where it writes', async () => {
    const config = loadConfig({ PREDICTION_LOG: `file:${dir}/p.jsonl` }).predictionLog;
    const { logger, lines } = fakeLogger();
    const log = (await PredictionLog.create(config, logger, undefined, 3))!;
    log.append(entry(2));
    await log.close();
    assert.deepEqual(readdirSync(dir), ['p.jsonl.w3']);
    const single = (await PredictionLog.create(loadConfig({ PREDICTION_LOG: `file:${dir}/q.jsonl` }).predictionLog, logger))!;
    single.append(entry(1));
    await single.close();
    assert.deepEqual(readdirSync(dir).sort(), ['p.jsonl.w3', 'q.jsonl'], 'a single process writes PATH itself');
    assert.deepEqual(lines[0], { level: 'info', fields: { sink: 'file', file: `${dir}/p.jsonl.w3` }, msg: 'prediction log on' });
  });
});

/** A record whose JSON line is exactly `bytes` bytes long (only the fields a sink reads). */
function sized(bytes: number, id = uuidv7()): PredictionRecord {
  const pad = bytes - Buffer.byteLength(JSON.stringify({ id, pad: '' }) + '\n');
  return { id, pad: 'x'.repeat(pad) } as unknown as PredictionRecord;
}

describe('FileWriter', () => {
  const readLines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

  it('appends JSON lines and rotates to PATH.<n> before PATH would pass the limit, counting what the file held', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-filewriter-'));
    const file = path.join(dir, 'p.jsonl');
    writeFileSync(file, 'x'.repeat(99) + '\n');
    const w = await FileWriter.create(file, 400);
    assert.equal(w.kind, 'file');
    assert.equal(w.available, true);
    const records = [sized(100), sized(100), sized(100), sized(100)];
    assert.equal(await w.write(records), 4);
    await w.close();
    // 100 held + 3 x 100 = 400: the limit is reached, not passed; the fourth starts a new file.
    assert.equal(readFileSync(`${file}.1`, 'utf8').length, 400);
    assert.deepEqual(readLines(file), [JSON.stringify(records[3])]);
    assert.deepEqual(readdirSync(dir).sort(), ['p.jsonl', 'p.jsonl.1']);
  });

  it('numbers rotations after the highest PATH.<n> already there, ignoring other names', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-filewriter-'));
    const file = path.join(dir, 'p.jsonl');
    for (const name of ['p.jsonl.2', 'p.jsonl.7', 'p.jsonl.x', 'p.jsonl.0', 'q.jsonl.9', 'p.jsonl.-3', 'p.jsonl.12.gz']) {
      writeFileSync(path.join(dir, name), '');
    }
    const w = await FileWriter.create(file, 150);
    await w.write([sized(100), sized(100), sized(100)]);
    await w.close();
    assert.equal(readLines(`${file}.8`).length, 1);
    assert.equal(readLines(`${file}.9`).length, 1);
    assert.equal(readLines(file).length, 1);
  });

  it('writes a record larger than the limit whole into a fresh file, and reopens after close', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-filewriter-'));
    const file = path.join(dir, 'p.jsonl');
    const w = await FileWriter.create(file, 50);
    const big = sized(120);
    await w.write([big]);
    assert.deepEqual(readdirSync(dir), ['p.jsonl'], 'an empty file is not rotated');
    await w.close();
    await w.close();
    await w.write([sized(60)]);
    await w.close();
    assert.deepEqual(readLines(`${file}.1`), [JSON.stringify(big)]);
    assert.equal(readLines(file).length, 1);
  });

  it('starts at PATH.1 when no name after PATH is a positive integer', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-filewriter-'));
    const file = path.join(dir, 'p.jsonl');
    for (const name of ['p.jsonl.x', 'p.jsonl.1.5', 'p.jsonl.0']) writeFileSync(path.join(dir, name), '');
    const w = await FileWriter.create(file, 150);
    await w.write([sized(100), sized(100)]);
    await w.close();
    assert.equal(readLines(`${file}.1`).length, 1);
  });

  it('counts what its own writes added: a later batch rotates once the file is full', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-filewriter-'));
    const file = path.join(dir, 'p.jsonl');
    const w = await FileWriter.create(file, 200);
    await w.write([sized(120)]);
    await w.write([sized(120)]);
    await w.write([sized(80)]);
    await w.close();
    assert.equal(readLines(`${file}.1`).length, 1);
    assert.equal(readFileSync(file, 'utf8').length, 200, 'the limit is reached, not passed');
  });

  it(
    'rejects a failed write with the system error, and opens the file again for the next write',
    { skip: existsSync('/dev/full') ? false : 'no /dev/full' },
    async () => {
      // /dev/full opens and then fails every write with ENOSPC, as a full disk does.
      const w = await FileWriter.create('/dev/full', 1_000_000);
      await assert.rejects(w.write([sized(100)]), { code: 'ENOSPC' });
      // Still ENOSPC, not a write on the handle the failure closed (EBADF).
      await assert.rejects(w.write([sized(100)]), { code: 'ENOSPC' });
      await w.close();
    },
  );

  it('writes nothing for an empty batch', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pm-filewriter-'));
    const file = path.join(dir, 'p.jsonl');
    const w = await FileWriter.create(file, 50);
    assert.equal(await w.write([]), 0);
    await w.close();
    assert.equal(readFileSync(file, 'utf8'), '');
  });
});

describe('RedisWriter: its client', () => {
  /** The writer's ioredis client, swapped for a fake or read for its options. */
  const clientOf = (w: RedisWriter) => w as unknown as { redis: Redis };

  it('refuses a batch that Redis answered with no reply at all, and stores nothing for an empty one', async () => {
    const w = new RedisWriter(`redis://127.0.0.1:${await freePort()}`, 'preds', 10, () => undefined);
    const real = clientOf(w).redis;
    real.disconnect();
    clientOf(w).redis = { pipeline: () => ({ xadd: () => undefined, exec: () => Promise.resolve(null) }) } as unknown as Redis;
    await assert.rejects(w.write([sized(100)]), { message: 'no reply from Redis' });
    assert.equal(await w.write([]), 0);
  });

  it('backs off 100 ms more per failed reconnect, up to 2 s, and never stops reconnecting', async () => {
    const w = new RedisWriter(`redis://127.0.0.1:${await freePort()}`, 'preds', 10, () => undefined);
    const { retryStrategy, commandTimeout, connectTimeout } = clientOf(w).redis.options;
    assert.deepEqual(
      [1, 2, 5, 19, 20, 21, 1_000].map((times) => retryStrategy!(times)),
      [100, 200, 500, 1_900, 2_000, 2_000, 2_000],
    );
    assert.deepEqual([commandTimeout, connectTimeout], [5_000, 2_000]);
    await w.close();
  });
});

describe('RedisWriter', { skip: redisSkipReason() }, () => {
  let redis: RedisProcess;
  let client: Redis;
  before(async () => {
    redis = await RedisProcess.start();
    client = new Redis(redis.url);
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('XADDs one entry per record, with the id and the JSON record, and trims the stream', async () => {
    const errors: string[] = [];
    const w = new RedisWriter(redis.url, 'preds', 10, (m) => errors.push(m));
    assert.equal(w.kind, 'redis');
    assert.equal(w.available, false, 'not before the connection is ready');
    await until('the Redis sink is ready', () => w.available, { everyMs: 5 });
    const records = Array.from({ length: 3 }, () => sized(200));
    assert.equal(await w.write(records), 3);
    const entries = await client.xrange('preds', '-', '+');
    assert.deepEqual(
      entries.map(([, fields]) => fields),
      records.map((r) => ['id', r.id, 'record', JSON.stringify(r)]),
    );
    assert.equal(await w.write(Array.from({ length: 500 }, () => sized(100))), 500);
    assert.ok((await client.xlen('preds')) < 503, 'MAXLEN ~ trims');
    assert.equal(await w.write([]), 0);
    await w.close();
    await until('the Redis sink is closed', () => !w.available, { everyMs: 5 });
    assert.deepEqual(errors, []);
  });

  it('PREDICTION_LOG=redis: says which stream it writes, and logs an unreachable Redis as the sink down', async () => {
    const ok = fakeLogger();
    const config = loadConfig({ PREDICTION_LOG: 'redis', PREDICTION_LOG_REDIS_URL: redis.url, PREDICTION_LOG_STREAM: 's1' });
    const log = (await PredictionLog.create(config.predictionLog, ok.logger))!;
    assert.deepEqual(ok.lines, [{ level: 'info', fields: { sink: 'redis', stream: 's1' }, msg: 'prediction log on' }]);
    await log.close();

    const down = fakeLogger();
    const url = `redis://127.0.0.1:${await freePort()}`;
    const unreachable = loadConfig({ PREDICTION_LOG: 'redis', PREDICTION_LOG_REDIS_URL: url }).predictionLog;
    const log2 = (await PredictionLog.create(unreachable, down.logger))!;
    await until('the sink reported down', () => down.lines.length > 1, { everyMs: 5 });
    assert.deepEqual(
      down.lines.slice(1).map((l) => [l.level, l.fields.sink]),
      [['error', 'redis']],
    );
    assert.match(String(down.lines[1].fields.reason), /ECONNREFUSED/);
    await log2.close();
  });

  it("refuses a batch Redis refused whole with Redis's own error", async () => {
    const w = new RedisWriter(redis.url, 'not-a-stream', 10, () => undefined);
    await client.set('not-a-stream', 'x');
    await until('the Redis sink is ready', () => w.available, { everyMs: 5 });
    await assert.rejects(w.write([sized(100), sized(100)]), /WRONGTYPE/);
    await w.close();
  });

  it('is unavailable while Redis is unreachable, reports the error, and refuses a write', async () => {
    const errors: string[] = [];
    const w = new RedisWriter(`redis://127.0.0.1:${await freePort()}`, 'preds', 10, (m) => errors.push(m));
    await until('a connection error', () => errors.length > 0, { everyMs: 5 });
    assert.equal(w.available, false);
    assert.match(errors[0], /ECONNREFUSED/);
    // Refused at once, not queued until the next connection attempt fails: the log's buffer is the only queue.
    await assert.rejects(w.write([sized(100)]), /enableOfflineQueue/);
    await w.close();
  });

  it('reconnects by itself after Redis drops its connection', async () => {
    const errors: string[] = [];
    const w = new RedisWriter(redis.url, 'preds', 10, (m) => errors.push(m));
    await until('the Redis sink is ready', () => w.available, { everyMs: 5 });
    await client.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await until('the Redis sink noticed', () => !w.available, { everyMs: 2 });
    await until('the Redis sink is back', () => w.available, { everyMs: 5 });
    assert.equal(await w.write([sized(100)]), 1);
    await w.close();
  });
});
