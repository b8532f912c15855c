import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { metricValue, scrape } from './helpers/metrics';
import { holdRuns, NORMAL_READING, startServer } from './helpers/server';
import { until } from './helpers/wait';

const PREDICT = 'mutation P($input: SensorReadingInput!) { predict(input: $input) { modelVersion } }';
const BATCH = 'mutation B($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { modelVersion } }';

/** Sends a predictBatch and hangs up once `hangUp` resolves (before any answer). */
function postThenDisconnect(port: number, rows: number, hangUp: Promise<void>): void {
  const body = JSON.stringify({ query: BATCH, variables: { inputs: Array.from({ length: rows }, () => NORMAL_READING) } });
  const req = http.request({ host: '127.0.0.1', port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json' } });
  req.on('error', () => undefined); // we are the ones hanging up
  req.end(body);
  void hangUp.then(() => req.destroy());
}

describe('deadlines and abandoned work (full queue)', () => {
  it('drops the rows of clients that disconnect before they run, and runs the rest', async () => {
    const s = await startServer({ RATE_LIMIT_ENABLED: 'false', MAX_QUEUE_WAIT_MS: '60000' });
    try {
      const service = s.models.service();
      const before = await scrape(s.origin);
      const hold = holdRuns(service);
      const running = s.gql(PREDICT, { input: NORMAL_READING });
      await hold.firstRun;
      let hangUp!: () => void;
      const hungUp = new Promise<void>((r) => (hangUp = r));
      for (let i = 0; i < 3; i++) postThenDisconnect(s.port, 4, hungUp);
      const kept = s.gql(BATCH, { inputs: [NORMAL_READING, NORMAL_READING] });
      await until('1 running + 14 queued rows', () => service.stats().queuedRows === 15, { everyMs: 5 });
      hangUp();
      await until('the 12 abandoned rows to leave the queue', () => service.stats().dropped.disconnected === 12, { everyMs: 5 });
      assert.equal(service.stats().queuedRows, 3);
      hold.release();
      hold.restore();
      assert.equal((await running).body.errors, undefined);
      assert.equal((await kept).body.errors, undefined);
      const after = await scrape(s.origin);
      const delta = (name: string, labels: Record<string, string> = {}) =>
        metricValue(after, name, labels) - metricValue(before, name, labels);
      assert.equal(delta('pm_inference_rows_total'), 3, 'only the rows of connected clients ran');
      assert.equal(delta('pm_inference_dropped_rows_total', { reason: 'disconnected' }), 12);
      assert.equal(delta('pm_inference_dropped_rows_total', { reason: 'deadline' }), 0);
      assert.equal(metricValue(after, 'pm_inference_queue_rows'), 0);
    } finally {
      await s.close();
    }
  });

  it('answers SERVER_BUSY with retryAfter to rows that wait past MAX_QUEUE_WAIT_MS, without running them', async () => {
    const s = await startServer({ RATE_LIMIT_ENABLED: 'false', MAX_QUEUE_WAIT_MS: '300' });
    try {
      const service = s.models.service();
      const before = await scrape(s.origin);
      const hold = holdRuns(service);
      const running = s.gql(PREDICT, { input: NORMAL_READING });
      await hold.firstRun;
      const started = Date.now();
      const late = await s.gql(BATCH, { inputs: [NORMAL_READING, NORMAL_READING, NORMAL_READING] });
      const waited = Date.now() - started;
      assert.equal(late.status, 503);
      assert.equal(late.headers.get('retry-after'), '1');
      const error = late.body.errors?.[0];
      assert.equal(error?.extensions?.code, 'SERVER_BUSY');
      assert.equal(error?.extensions?.retryAfter, 1);
      assert.match(error?.message ?? '', /MAX_QUEUE_WAIT_MS/);
      assert.ok(waited >= 290, `answered after ${waited} ms, not at the deadline`);
      hold.release();
      hold.restore();
      assert.equal((await running).body.errors, undefined, 'a row already running is not cut off');
      const after = await scrape(s.origin);
      const delta = (name: string, labels: Record<string, string> = {}) =>
        metricValue(after, name, labels) - metricValue(before, name, labels);
      assert.equal(delta('pm_inference_dropped_rows_total', { reason: 'deadline' }), 3);
      assert.equal(delta('pm_inference_rows_total'), 1);
      assert.equal(delta('pm_graphql_operations_total', { root_field: 'predictBatch', outcome: 'SERVER_BUSY' }), 1);
    } finally {
      await s.close();
    }
  });
});
