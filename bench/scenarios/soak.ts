/**
 * `--soak`: `predict` at 64 connections for SOAK_SECONDS (default 300), RSS sampled every 5 s; the trend
 * after warm-up says whether memory grows under steady load.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cannon } from '../lib/load';
import { check, startApi, stop } from '../lib/processes';
import { modelName, spliceMarkdown } from '../lib/report';
import { predictBody } from '../lib/requests';
import { rssOf } from '../lib/rss';
import { MB, RESULTS, round, type BenchSettings } from '../lib/settings';

export async function soak(settings: BenchSettings): Promise<void> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 300);
  const api = await startApi(settings, 'soak-api');
  try {
    const body = predictBody();
    await check(api, body);
    await cannon(api, body, 1, 64, 3);
    await sleep(2000);
    const idle = rssOf(api.child.pid!);
    const samples: Array<{ t: number; rssMB: number }> = [];
    const t0 = Date.now();
    const timer = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, rssMB: round(rssOf(api.child.pid!) / MB, 1) }), 5000);
    const load = await cannon(api, body, 1, 64, seconds);
    clearInterval(timer);
    await sleep(10_000);
    const after = rssOf(api.child.pid!);
    // Trend over the steady part (after the first minute or first third): least-squares slope in MB/min.
    const steady = samples.filter((s) => s.t >= Math.min(60, seconds / 3));
    const n = steady.length;
    const mx = steady.reduce((a, s) => a + s.t, 0) / n;
    const my = steady.reduce((a, s) => a + s.rssMB, 0) / n;
    const slope =
      steady.reduce((a, s) => a + (s.t - mx) * (s.rssMB - my), 0) /
      Math.max(
        1e-9,
        steady.reduce((a, s) => a + (s.t - mx) ** 2, 0),
      );
    const result = {
      date: new Date().toISOString(),
      seconds,
      model: modelName(settings.modelDir),
      idleMB: round(idle / MB, 1),
      peakMB: Math.max(...samples.map((s) => s.rssMB)),
      afterMB: round(after / MB, 1),
      slopeMBPerMin: round(slope * 60, 2),
      requestsPerSecond: round(load.requestsPerSecond, 0),
      p99Ms: load.latencyMs.p99,
      non2xx: load.non2xx,
      errors: load.errors,
      samples,
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(path.join(RESULTS, 'soak.json'), JSON.stringify(result, null, 2));
    console.log(JSON.stringify({ ...result, samples: undefined }, null, 2));
    const text = [
      `Soak (${result.date}, model ${result.model}): \`predict\` at 64 connections for ${seconds} s, RSS sampled every 5 s.`,
      '',
      `| idle RSS | peak RSS | RSS 10 s after | trend after warm-up | req/s | p99 | non-2xx / errors |`,
      `|---|---|---|---|---|---|---|`,
      `| ${result.idleMB} MB | ${result.peakMB} MB | ${result.afterMB} MB | ${result.slopeMBPerMin} MB/min | ${result.requestsPerSecond} | ${result.p99Ms} ms | ${result.non2xx} / ${result.errors} |`,
      '',
      `RSS samples (MB): ${samples.map((s) => s.rssMB).join(', ')}`,
    ].join('\n');
    spliceMarkdown('soak', text);
  } finally {
    await stop(api);
  }
}
