/**
 * The Markdown report: docs/benchmarks.md sections between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
 * markers, bench/benchmarks.json and bench/results/latest.json, and the floors the figures are held to.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ScenarioResult } from '../scenarios/compared';
import type { AttackResult, CompressionResult } from '../scenarios/edge';
import type { ExplanationResult } from '../scenarios/explanation';
import type { Load } from './load';
import { apiEnv, SERVER_NODE_FLAGS } from './processes';
import { MB, RESULTS, ROOT, round, type BenchSettings } from './settings';

export interface EdgeResult {
  /** The API as the bench runs it (TRUSTED_DOCUMENTS=allow): the attackers' free text is checked and refused. */
  attack: AttackResult;
  /** The same attack on a server with TRUSTED_DOCUMENTS=require, the third client sending a document id. */
  attackRequire: AttackResult;
  compression: CompressionResult;
}

function versions(): Record<string, string> {
  const v = (pkg: string) => {
    try {
      return JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version as string;
    } catch {
      return 'n/a';
    }
  };
  return {
    node: process.version,
    'onnxruntime-node': v('onnxruntime-node'),
    '@apollo/server': v('@apollo/server'),
    graphql: v('graphql'),
    'graphql-jit': v('graphql-jit'),
    'type-graphql': v('type-graphql'),
    autocannon: v('autocannon'),
  };
}

function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGB: round(os.totalmem() / 1024 ** 3, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

export function modelName(modelDir: string): string {
  try {
    const m = JSON.parse(readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
    return `${m.name} ${m.version}`;
  } catch {
    return 'unknown';
  }
}

/** Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in docs/benchmarks.md (appends the section if absent). */
export function spliceMarkdown(name: string, text: string): void {
  const file = path.join(ROOT, 'docs', 'benchmarks.md');
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  let md = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const block = `${begin}\n${text}\n${end}`;
  const i = md.indexOf(begin);
  const j = md.indexOf(end);
  md = i >= 0 && j > i ? md.slice(0, i) + block + md.slice(j + end.length) : `${md.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, md);
}

export function report(
  settings: BenchSettings,
  results: ScenarioResult[],
  mem: { startRss: number; idleRss: number; peakRss: number; afterRss: number; settleSeconds: number; wallSeconds: number },
  explanation?: ExplanationResult,
  edge?: EdgeResult,
): void {
  const by = (id: string) => results.find((r) => r.id === id)!;
  const c1 = by('predict-c1');
  const c64 = by('predict-c64');
  const b1000 = by('batch-1000');
  const c256 = by('predict-c256');
  const floors = [
    { floor: '`predict` 64 conn: >= 0.5x reference req/s', value: `${round(c64.ratio)}x`, met: c64.ratio >= 0.5 },
    {
      floor: '`predict` 64 conn: p99 < 25 ms',
      // An absolute floor: the bare reference's own p99 in the same rounds says whether this machine allows it.
      value: `${c64.api.latencyMs.p99} ms (bare reference: ${c64.reference.latencyMs.p99} ms)`,
      met: c64.api.latencyMs.p99 < 25,
    },
    { floor: '`predictBatch` 1,000 rows: >= 0.4x reference rows/s', value: `${round(b1000.ratio)}x`, met: b1000.ratio >= 0.4 },
    { floor: '`predict` 1 conn: median latency < 1 ms', value: `${round(c1.api.latencyMs.p50, 3)} ms`, met: c1.api.latencyMs.p50 < 1 },
    {
      floor: '256 conn: batching on beats batching off',
      value: `${round(c256.api.requestsPerSecond, 0)} vs ${round(c256.batchingOff!.api.requestsPerSecond, 0)} req/s`,
      met: c256.api.requestsPerSecond > c256.batchingOff!.api.requestsPerSecond,
    },
    { floor: '256 conn: mean rows per ONNX run > 4', value: `${round(c256.meanRowsPerRun ?? 0)}`, met: (c256.meanRowsPerRun ?? 0) > 4 },
    {
      floor: '1 conn: batching adds no measurable latency',
      value: `p50 ${round(c1.api.latencyMs.p50, 3)} ms on vs ${round(c1.batchingOff!.api.latencyMs.p50, 3)} ms off`,
      met: c1.api.latencyMs.p50 <= c1.batchingOff!.api.latencyMs.p50 * 1.1 + 0.02,
    },
    { floor: 'RSS under load < 250 MB', value: `${round(mem.peakRss / MB, 1)} MB`, met: mem.peakRss < 250 * MB },
    {
      floor: 'RSS after load within 20 % of idle',
      value: `${round(mem.afterRss / MB, 1)} MB vs idle ${round(mem.idleRss / MB, 1)} MB`,
      met: mem.afterRss <= mem.idleRss * 1.2,
    },
  ];
  const failures =
    results.reduce(
      (a, r) =>
        a +
        r.api.non2xx +
        r.api.errors +
        r.reference.non2xx +
        r.reference.errors +
        (r.batchingOff ? r.batchingOff.api.non2xx + r.batchingOff.api.errors : 0),
      0,
    ) +
    (explanation ? explanation.plain.non2xx + explanation.plain.errors + explanation.explained.non2xx + explanation.explained.errors : 0);
  const out = {
    date: new Date().toISOString(),
    mode: settings.quick ? 'quick' : 'full',
    durationSeconds: settings.duration,
    model: modelName(settings.modelDir),
    machine: machine(),
    versions: versions(),
    apiEnv: apiEnv(settings.modelDir),
    memory: {
      startMB: round(mem.startRss / MB, 1),
      idleMB: round(mem.idleRss / MB, 1),
      peakUnderLoadMB: round(mem.peakRss / MB, 1),
      afterLoadMB: round(mem.afterRss / MB, 1),
      afterLoadSeconds: round(mem.settleSeconds, 0),
    },
    rounds: settings.rounds,
    failures,
    floors,
    scenarios: results,
    explanation,
    edge,
    wallSeconds: round(mem.wallSeconds, 1),
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'latest.json'), JSON.stringify(out, null, 2));
  console.log(`\nwall ${round(mem.wallSeconds, 1)} s; failures (non-2xx + socket errors): ${failures}`);
  for (const f of floors) console.log(`${f.met ? 'MET    ' : 'NOT MET'} ${f.floor}: ${f.value}`);
  if (settings.quick) return;

  writeFileSync(path.join(ROOT, 'bench', 'benchmarks.json'), JSON.stringify(out, null, 2) + '\n');
  const num = (x: number, unit: string) => (unit === 'ms' ? `${round(x, 3)} ms` : `${Math.round(x).toLocaleString('en-US')}`);
  const row = (label: string, r: ScenarioResult, api: Load, ratio: number, rowsPerRun?: number) => {
    const v = (l: Load) => (r.unit === 'rows/s' ? l.rowsPerSecond : l.requestsPerSecond);
    return `| ${label} | ${num(v(r.reference), '')} ${r.unit} | ${num(v(api), '')} ${r.unit} | **${round(ratio)}x** | ${num(r.reference.latencyMs.p50, 'ms')} / ${num(r.reference.latencyMs.p99, 'ms')} | ${num(api.latencyMs.p50, 'ms')} / ${num(api.latencyMs.p99, 'ms')} | ${rowsPerRun === undefined ? '' : round(rowsPerRun)} | ${api.non2xx + api.errors} |`;
  };
  const lines = [
    `Full run of ${out.date} (\`npm run bench\`; per server and scenario ${settings.warmup} s warm-up, then ${settings.rounds} rounds of ${settings.duration} s alternating between the servers; figures are medians of the rounds, ratios the median of the per-round ratios; wall ${out.wallSeconds} s). Model: ${out.model}.`,
    '',
    `Machine: ${out.machine.cpu}, ${out.machine.cores} cores, ${out.machine.memoryGB} GB, ${out.machine.os}; load generator (autocannon) on the same cores.`,
    `Versions: ${Object.entries(out.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    `API: \`node ${SERVER_NODE_FLAGS.join(' ')} dist/src/main.js\` with ${Object.entries(apiEnv(settings.modelDir))
      .filter(([k]) => k !== 'MODEL_DIR' && k !== 'TRUSTED_DOCUMENTS_FILE')
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ' ',
      )} (TRUSTED_DOCUMENTS_FILE: the committed client manifest and the bench's own, bench/results/trusted-documents.json), access log to a file; class-validator rules enforced on every row.`,
    '',
    '| scenario | reference | API | API / reference | reference p50 / p99 | API p50 / p99 | rows per ONNX run | API failures |',
    '|---|---|---|---|---|---|---|---|',
    ...results.flatMap((r) => [
      row(r.title + (r.batchingOff ? ' (batching on)' : ''), r, r.api, r.ratio, r.meanRowsPerRun),
      ...(r.batchingOff
        ? [row(r.title + ' (batching off, MAX_BATCH_SIZE=1)', r, r.batchingOff.api, r.batchingOff.ratio, r.batchingOff.meanRowsPerRun)]
        : []),
    ]),
    '',
    `Memory (API RSS): ${out.memory.startMB} MB just after start, idle (warmed up: 200 \`predict\` + 10 1,000-row \`predictBatch\`, then 3 s quiet) ${out.memory.idleMB} MB, peak under load ${out.memory.peakUnderLoadMB} MB (per scenario: ${results.map((r) => `${r.id} ${r.apiPeakRssMB} MB`).join(', ')}), ${out.memory.afterLoadSeconds} s after the last scenario ${out.memory.afterLoadMB} MB (polled each second for up to ${settings.settleSeconds} s until within 20 % of idle).`,
    '',
    '| floor | measured | met |',
    '|---|---|---|',
    ...floors.map((f) => `| ${f.floor} | ${f.value} | ${f.met ? 'yes' : '**no**'} |`),
    '',
    ...(explanation
      ? [
          `\`predictBatch\`, 1,000 rows, ${explanation.connections} connections, with and without \`explanation\` (same API process, rounds alternating): ` +
            `${num(explanation.plain.rowsPerSecond, '')} rows/s without, ${num(explanation.explained.rowsPerSecond, '')} rows/s with, **${round(explanation.ratio)}x**; ` +
            `p50 ${num(explanation.plain.latencyMs.p50, 'ms')} vs ${num(explanation.explained.latencyMs.p50, 'ms')}; model rows per reading ${explanation.modelRowsPerReading.plain} vs ${explanation.modelRowsPerReading.explained}, ` +
            `rows per ONNX run ${explanation.meanRowsPerRun.plain} vs ${explanation.meanRowsPerRun.explained}.`,
          '',
        ]
      : []),
    ...(edge
      ? [
          `Under attack (budgets out of reach, so only the bounded cost of refusing a document protects the third client): two clients send ${edge.attack.attackers.documentBytes.toLocaleString('en-US')}-byte documents ` +
            `(\`health { status }\` repeated to the body limit) back to back while a third calls \`predict\` on one connection, against the API as benched ` +
            `(\`TRUSTED_DOCUMENTS=allow\`, the third client sending document text) and against a second API process with \`TRUSTED_DOCUMENTS=require\` ` +
            `(the third client sending its document id; docs/trusted-documents.md). Floor: attacked p99 < 5x calm or < 25 ms.`,
          '',
          '| server | calm p50 / p99 | attacked p50 / p99 | p99 attacked / calm | floor | attackers refused | refusal p50 / p99 |',
          '|---|---|---|---|---|---|---|',
          ...[['`TRUSTED_DOCUMENTS=allow`', edge.attack] as const, ['`TRUSTED_DOCUMENTS=require`', edge.attackRequire] as const].map(
            ([mode, a]) =>
              `| ${mode} | ${a.victimUnloaded.p50} / ${a.victimUnloaded.p99} ms | ${a.victimAttacked.p50} / ${a.victimAttacked.p99} ms | **${a.ratioP99}x** | ${a.met ? 'met' : '**not met**'} | ` +
              `${Object.entries(a.attackers.byStatus)
                .map(([k, v]) => `${v} x ${k}`)
                .join(', ')} | ${a.attackers.p50} / ${a.attackers.p99} ms |`,
          ),
          '',
          `Compression, 1,000-row \`predictBatch\` answer: ${edge.compression.bytes.identity.toLocaleString('en-US')} B plain, ${edge.compression.bytes.gzip.toLocaleString('en-US')} B gzip, ` +
            `${edge.compression.bytes.br.toLocaleString('en-US')} B br; rows/s at 8 connections ${edge.compression.rowsPerSecond.identity.toLocaleString('en-US')} plain, ` +
            `${edge.compression.rowsPerSecond.gzip.toLocaleString('en-US')} gzip, ${edge.compression.rowsPerSecond.br.toLocaleString('en-US')} br (the client on the same cores pays for decompression too).`,
          '',
        ]
      : []),
    'Raw numbers: [bench/benchmarks.json](../bench/benchmarks.json).',
  ];
  spliceMarkdown('bench', lines.join('\n'));
}
