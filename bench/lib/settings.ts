/** What every scenario reads from the command line (parsed once in bench/run.ts). */
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const RESULTS = path.join(ROOT, 'bench', 'results');
/** Where `--profile` has the API processes write their V8 CPU profiles. */
export const PROFILES = path.join(RESULTS, 'profiles');

export interface BenchSettings {
  /** A few seconds a scenario, for CI; asserts nothing about speed. */
  quick: boolean;
  /** The API under --cpu-prof, profiles in bench/results/profiles. */
  profile: boolean;
  modelDir: string;
  /** Seconds per measured round. */
  duration: number;
  /** Seconds of warm-up per server and scenario. */
  warmup: number;
  /** Measured rounds per server and scenario (full run: 3, reported as medians). */
  rounds: number;
  /** How long the after-load RSS may take to settle (V8's memory reducer shrinks the heap some seconds after load stops). */
  settleSeconds: number;
  /** `--only` scenario ids, or undefined for all. */
  only?: string[];
}

/** Whether `--only` lets scenario `id` run. */
export const selected = (settings: BenchSettings, id: string): boolean => !settings.only || settings.only.includes(id);

const STARTED = Date.now();
/** One line per measured round, so a five-minute run is never silent. */
export function progress(settings: BenchSettings, scenario: string, round: number): void {
  console.log(`  ${scenario}: round ${round + 1}/${settings.rounds} (${Math.round((Date.now() - STARTED) / 1000)} s elapsed)`);
}

export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
export const MB = 1024 * 1024;
