/**
 * `npm run bench -- --profile`: where the API's CPU went, by layer of the stack, read from the V8
 * `.cpuprofile` files the API processes wrote (bench/results/profiles). The figures the issue threads
 * quote ("Apollo's pipeline 5 %, GC 7 %") come from here, so they are reproducible, not hand-read from
 * DevTools.
 *
 * Shares are of busy time: idle and `(program)` samples are left out, and so are samples taken while
 * the process was loading modules (any stack through `Module._load`), which would otherwise make a
 * short scenario look like start-up. A sample is charged to the first frame, from the leaf up, that
 * has a source (a native leaf such as `writev` is charged to the Node.js code that called it); GC is
 * its own layer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The parts of a V8 CPU profile (`node --cpu-prof`) this reads. */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Busy time in milliseconds (what the shares are of). */
  busyMs: number;
  /** Busy time by layer, largest first; shares sum to 1. */
  layers: Array<{ layer: string; share: number }>;
  /** The functions with the most self time, largest first. */
  top: Array<{ name: string; share: number }>;
}

/** Layers in report order of precedence: the first whose pattern matches a frame's URL names it. */
const LAYERS: ReadonlyArray<readonly [string, RegExp]> = [
  ['onnxruntime', /node_modules\/onnxruntime-/],
  ['Apollo Server', /node_modules\/(@apollo\/|@as-integrations\/)/],
  [
    'GraphQL execution (graphql-jit, graphql-js, type-graphql, class-validator)',
    /node_modules\/(graphql-jit|graphql|type-graphql|class-validator|validator)\//,
  ],
  ['Fastify and its plugins', /node_modules\/(fastify|@fastify\/|find-my-way|avvio|light-my-request|fast-json-stringify|negotiator|vary)/],
  ['logging (pino)', /node_modules\/(pino|sonic-boom|thread-stream|on-exit-leak-free)/],
  ['metrics (prom-client)', /node_modules\/(prom-client|tdigest|bintrees)/],
  ['this API (dist/src)', /\/dist\/src\//],
  ['other packages', /node_modules\//],
  ['Node.js core (HTTP, sockets, streams, timers)', /^node:|^internal\//],
];

const GC = '(garbage collector)';
const SKIPPED = new Set(['(idle)', '(program)']);

/** The layer a frame's source URL belongs to, or undefined for a frame with no source (a native function). */
export function layerOf(url: string): string | undefined {
  if (url === '') return undefined;
  for (const [layer, pattern] of LAYERS) if (pattern.test(url)) return layer;
  return 'other';
}

export function summarizeProfile(profile: CpuProfile, topCount = 15): ProfileSummary {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byLayer = new Map<string, number>();
  const bySelf = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const leaf = nodes.get(profile.samples[i]);
    const us = profile.timeDeltas[i] ?? 0;
    if (leaf === undefined || SKIPPED.has(leaf.callFrame.functionName)) continue;
    let layer = leaf.callFrame.functionName === GC ? 'garbage collection' : undefined;
    let loading = false;
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const frame = nodes.get(id)!.callFrame;
      if (frame.functionName === 'Module._load') loading = true;
      layer ??= layerOf(frame.url);
    }
    if (loading) continue;
    busy += us;
    const where = layer ?? 'native, no caller with a source';
    byLayer.set(where, (byLayer.get(where) ?? 0) + us);
    const { functionName, url } = leaf.callFrame;
    const name = `${functionName || '(anonymous)'}${url ? ` ${shortUrl(url)}` : ''}`;
    bySelf.set(name, (bySelf.get(name) ?? 0) + us);
  }
  const shares = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, share: busy > 0 ? us / busy : 0 }));
  return {
    busyMs: busy / 1000,
    layers: shares(byLayer).map(({ name, share }) => ({ layer: name, share })),
    top: shares(bySelf).slice(0, topCount),
  };
}

/** `file:///.../node_modules/fastify/lib/reply.js` -> `fastify/lib/reply.js`; `/.../dist/src/app.js` -> `src/app.js`. */
function shortUrl(url: string): string {
  const m = /node_modules\/(.+)$/.exec(url) ?? /\/dist\/(.+)$/.exec(url);
  return m ? m[1] : url.replace(/^file:\/\//, '');
}

/** Prints the summary of every profile in `dir` (one per API process the bench started). */
export function printProfiles(dir: string): void {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return;
  }
  for (const file of files.sort()) {
    const summary = summarizeProfile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile);
    if (summary.busyMs < 100) continue; // a process that only started (api-batching-off when unused)
    const pct = (s: number) => `${(s * 100).toFixed(1).padStart(5)} %`;
    console.log(`\nprofile ${file}: ${summary.busyMs.toFixed(0)} ms busy`);
    for (const { layer, share } of summary.layers) console.log(`  ${pct(share)}  ${layer}`);
    console.log('  hottest functions (self time):');
    for (const { name, share } of summary.top) console.log(`  ${pct(share)}  ${name}`);
  }
}
