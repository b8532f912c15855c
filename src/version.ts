import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The nearest folder at or above `from` holding a package.json (the filesystem root when none does). */
export function findPackageRoot(from: string): string {
  let dir = from;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** The version in `root`'s package.json; 0.0.0 when it cannot be read. */
export function readVersion(root: string): string {
  try {
    return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
}

/** The package root (the folder holding package.json), found from here whether run from src/ or dist/src/. */
export const PACKAGE_ROOT: string = findPackageRoot(__dirname);

/** package.json's version, read once. */
export const SERVER_VERSION: string = readVersion(PACKAGE_ROOT);
