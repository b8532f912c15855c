// The local fleet (bench/fleet.ts): three API processes, one redis-server, nginx on deploy/nginx.conf.
// Proves one shared rate-limit budget through the proxy, across the replicas, and that stopping one replica
// with SIGTERM while clients send through nginx loses no request.
// CI installs nginx and redis-server (.ci/run): there a missing one fails the run; locally the suite skips.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { findBinary, startFleet, type Fleet } from '../bench/fleet';
import { PREDICT_BATCH_QUERY, PREDICT_QUERY, readings } from '../bench/lib/requests';

const missing = ['nginx', 'redis-server'].filter((bin) => !findBinary(bin));
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(
    `${missing.join(' and ')} not installed, but CI=true: the fleet test must run in CI (apt-get install -y nginx redis-server)`,
  );
}
const skip = missing.length > 0 ? `${missing.join(' and ')} not found (apt-get install -y nginx redis-server)` : false;

const LIMIT = 20;
const EXTRA = 10;

interface Answer {
  status: number;
  body: any;
}

// One keep-alive agent, as a real client pool would use: connections to nginx outlive any replica.
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function post(origin: string, query: string, variables: Record<string, unknown>): Promise<Answer> {
  const body = JSON.stringify({ query, variables });
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname, port, path: '/graphql', method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: text });
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Counted GraphQL requests (POST /graphql) a replica logged, by outcome. */
function servedBy(output: string[]): { ok: number; refused: number } {
  let ok = 0;
  let refused = 0;
  for (const line of output.join('').split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line);
    if (entry.msg !== 'request' || entry.path !== '/graphql' || entry.method !== 'POST') continue;
    if (entry.status === 200 && entry.outcome === 'ok') ok++;
    else if (entry.status === 429) refused++;
  }
  return { ok, refused };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const total = (counts: Array<{ ok: number; refused: number }>, key: 'ok' | 'refused') => counts.reduce((n, c) => n + c[key], 0);

describe('local fleet (3 replicas, Redis, nginx on deploy/nginx.conf): one budget', { skip }, () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await startFleet({ replicas: 3, env: { RATE_LIMIT_MAX: String(LIMIT), RATE_LIMIT_WINDOW: '1h' } });
  });
  after(async () => {
    await fleet?.stop();
  });

  it(`lets exactly ${LIMIT} of ${LIMIT + EXTRA} simultaneous calls through the proxy, across the replicas`, async (t) => {
    const answers = await Promise.all(readings(LIMIT + EXTRA, 7).map((input) => post(fleet.origin, PREDICT_QUERY, { input })));
    const passed = answers.filter((a) => a.status === 200 && a.body.data?.predict);
    const refused = answers.filter((a) => a.status === 429 && a.body.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    assert.equal(passed.length, LIMIT, JSON.stringify(answers.filter((a) => !passed.includes(a)).slice(0, 3)));
    assert.equal(refused.length, EXTRA);

    // Each replica logged its share (access lines are written asynchronously: wait for all of them); the
    // budget held across the replicas, not per replica.
    const counts = () => fleet.replicas.map((r) => servedBy(r.output));
    await waitFor('every access log line', () => total(counts(), 'ok') + total(counts(), 'refused') >= LIMIT + EXTRA);
    const perReplica = counts();
    t.diagnostic(`passed ${passed.length}, refused ${refused.length}; per replica ${JSON.stringify(perReplica)}`);
    assert.equal(total(perReplica, 'ok'), LIMIT);
    assert.equal(total(perReplica, 'refused'), EXTRA);
    assert.ok(perReplica.filter((r) => r.ok > 0).length >= 2, `passing calls should spread over replicas: ${JSON.stringify(perReplica)}`);

    const budget = await post(fleet.origin, '{ rateLimit { used remaining store } }', {});
    assert.deepEqual(budget.body.data.rateLimit, { used: LIMIT, remaining: 0, store: 'redis' });
  });
});

describe('local fleet (3 replicas, Redis, nginx on deploy/nginx.conf): a replica stops', { skip }, () => {
  let fleet: Fleet;
  before(async () => {
    // Limits stay on (every call still reserves in Redis), high enough not to refuse the load.
    fleet = await startFleet({
      replicas: 3,
      env: { RATE_LIMIT_MAX: '1000000', RATE_LIMIT_ROWS_MAX: '100000000', REQUEST_LIMIT_MAX: '1000000' },
    });
  });
  after(async () => {
    agent.destroy();
    await fleet?.stop();
  });

  it('loses no request when one replica is stopped (SIGTERM) under load through nginx', async (t) => {
    const victim = fleet.replicas[1];
    const failures: string[] = [];
    let sent = 0;
    let ok = 0;
    let stopped = false;
    let afterStop = 0;

    // 8 clients in a loop, predict and 50-row predictBatch mixed, until 200 requests after the replica exited.
    const client = async (id: number) => {
      for (let i = 0; !(stopped && afterStop >= 200); i++) {
        sent++;
        const batch = (id + i) % 3 === 0;
        try {
          const a = batch
            ? await post(fleet.origin, PREDICT_BATCH_QUERY, { inputs: readings(50, id * 1000 + i) })
            : await post(fleet.origin, PREDICT_QUERY, { input: readings(1, id * 1000 + i)[0] });
          const good = a.status === 200 && !a.body.errors && (batch ? a.body.data.predictBatch.length === 50 : a.body.data.predict);
          if (good) ok++;
          else failures.push(`${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
        } catch (err) {
          failures.push(`network error: ${(err as Error).message}`);
        }
        if (stopped) afterStop++;
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, id) => client(id)));

    // Stop the replica once it has served a share of this load, so requests are in flight at it.
    await waitFor('the replica to take load', () => servedBy(victim.output).ok >= 20, 20_000);
    const code = await fleet.stopReplica(1, 'SIGTERM');
    stopped = true;
    const servedByVictim = servedBy(victim.output).ok;
    await load;

    t.diagnostic(
      `sent ${sent}, answered ${ok}, failed ${failures.length}; the stopped replica served ${servedByVictim} and exited ${code}; ${afterStop} sent after it exited`,
    );
    assert.equal(code, 0, 'the replica drains and exits 0 on SIGTERM');
    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
    assert.equal(ok, sent);
    // The others took over: they answered what came after the stop.
    assert.ok(afterStop >= 200);
  });
});
