import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. For state that settles asynchronously. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 15_000, everyMs = 50 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
