/** Resident set size sampling (Linux /proc): peak under load, idle and after-load figures. */
import { readFileSync } from 'node:fs';

/** Resident set size of a process in bytes. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Samples a process's RSS every 200 ms while `fn` runs. */
export async function withRss<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; peak: number; samples: number[] }> {
  const samples: number[] = [];
  const timer = setInterval(() => {
    try {
      samples.push(rssOf(pid));
    } catch {
      /* exited */
    }
  }, 200);
  try {
    const value = await fn();
    return { value, peak: Math.max(...samples, 0), samples };
  } finally {
    clearInterval(timer);
  }
}
