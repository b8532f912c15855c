import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cannon, median, medianLoad, type Load } from '../lib/load';
import { check, startApi, stop } from '../lib/processes';
import { spliceMarkdown } from '../lib/report';
import { predictBody } from '../lib/requests';
import { progress, RESULTS, round, type BenchSettings } from '../lib/settings';

/**
 * WORKERS=2 against WORKERS=1 (node:cluster, src/cluster.ts), `predict` at 64 connections, rounds
 * alternating between the two. Runs after the other scenarios, with their servers stopped. On a host
 * whose cores the load generator shares (this one), a second worker competes with autocannon for the
 * same CPUs, so the ratio says what this machine allows, not what a many-core host would give.
 */
export async function workersComparison(settings: BenchSettings): Promise<void> {
  const body = predictBody();
  const one = await startApi(settings, 'api-workers-1', { WORKERS: '1' });
  const two = await startApi(settings, 'api-workers-2', { WORKERS: '2' });
  const loads: Load[][] = [[], []];
  try {
    for (const p of [one, two]) {
      await check(p, body);
      await cannon(p, body, 1, 64, settings.warmup);
    }
    for (let r = 0; r < settings.rounds; r++) {
      progress(settings, 'workers-c64', r);
      loads[0].push(await cannon(one, body, 1, 64, settings.duration));
      loads[1].push(await cannon(two, body, 1, 64, settings.duration));
    }
  } finally {
    await stop(one);
    await stop(two);
  }
  const [w1, w2] = loads.map(medianLoad);
  const ratio = median(loads[1].map((l, i) => l.requestsPerSecond / loads[0][i].requestsPerSecond));
  const failures = [...loads[0], ...loads[1]].reduce((a, l) => a + l.non2xx + l.errors, 0);
  const fmt = (l: Load) => `${round(l.requestsPerSecond, 0)} req/s p50 ${round(l.latencyMs.p50, 3)} ms p99 ${round(l.latencyMs.p99, 3)} ms`;
  console.log(
    `workers-c64: WORKERS=1 ${fmt(w1)} | WORKERS=2 ${fmt(w2)} | ratio ${round(ratio)}x | failures ${failures} | ${os.availableParallelism()} cores shared with the load generator`,
  );
  const out = {
    date: new Date().toISOString(),
    mode: settings.quick ? 'quick' : 'full',
    cores: os.availableParallelism(),
    rounds: settings.rounds,
    durationSeconds: settings.duration,
    workers1: w1,
    workers2: w2,
    ratio,
    failures,
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'workers.json'), JSON.stringify(out, null, 2));
  if (settings.quick) return;
  const row = (label: string, l: Load) =>
    `| ${label} | ${Math.round(l.requestsPerSecond).toLocaleString('en-US')} req/s | ${round(l.latencyMs.p50, 3)} ms / ${round(l.latencyMs.p99, 3)} ms | ${l.non2xx + l.errors} |`;
  spliceMarkdown(
    'workers',
    [
      `\`predict\` at 64 connections, WORKERS=1 against WORKERS=2 (${out.date}; ${settings.rounds} rounds of ${settings.duration} s alternating, medians; ${out.cores} cores shared with autocannon).`,
      '',
      '| server | throughput | p50 / p99 | failures |',
      '|---|---|---|---|',
      row('WORKERS=1', w1),
      row('WORKERS=2', w2),
      '',
      `WORKERS=2 / WORKERS=1: **${round(ratio)}x**.`,
    ].join('\n'),
  );
}
