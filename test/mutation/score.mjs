// Per-module gate on a Stryker JSON report: Stryker's own `thresholds.break` only sees the overall
// score, and one weak module can hide behind strong ones. Mutants marked with a
// `// Stryker disable ... : <why>` comment (judged equivalent; listed in docs/testing.md) are "Ignored" and
// count on neither side, as in Stryker's own score.
//   node test/mutation/score.mjs [report.json] [threshold]
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'reports/mutation/all.json';
const threshold = Number(process.argv[3] ?? 85);
const report = JSON.parse(readFileSync(file, 'utf8'));

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
let failed = false;
const rows = [];
for (const [name, { mutants }] of Object.entries(report.files)) {
  const count = (set) => mutants.filter((m) => set.has(m.status)).length;
  const detected = count(DETECTED);
  const undetected = count(UNDETECTED);
  const ignored = mutants.filter((m) => m.status === 'Ignored').length;
  const score = detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected);
  const ok = score >= threshold;
  failed ||= !ok;
  rows.push({
    module: name,
    score: score.toFixed(2),
    killed: detected,
    survived: undetected,
    equivalent: ignored,
    ok: ok ? 'ok' : `BELOW ${threshold}`,
  });
}
console.table(rows);
if (failed) {
  console.error(`mutation score below ${threshold} % in at least one module (${file})`);
  process.exit(1);
}
