import { readFileSync } from 'node:fs';
import path from 'node:path';

/** package.json's version, read once (compiled code lives in dist/src, so walk up to the repo root). */
export const SERVER_VERSION: string = (() => {
  for (const dir of [path.join(__dirname, '..'), path.join(__dirname, '..', '..')]) {
    try {
      return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version as string;
    } catch {
      /* try the next candidate */
    }
  }
  return '0.0.0';
})();
