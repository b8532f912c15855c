import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The package root (the folder holding package.json), found from here whether run from src/ or dist/src/. */
export const PACKAGE_ROOT: string = (() => {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

/** package.json's version, read once. */
export const SERVER_VERSION: string = (() => {
  try {
    return JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
})();
