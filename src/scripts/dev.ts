/**
 * `npm run dev`: the TypeScript compiler in watch mode beside the server under `node --watch`, so a saved
 * source file is rebuilt into dist/ and the server restarts on it (node --watch sends SIGTERM, so the
 * restart drains like a deployment would). Logs are pretty-printed unless LOG_PRETTY says otherwise.
 * No extra dependencies: tsc and node's own watch mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { loadEnvFile } from '../config';

const root = path.resolve(__dirname, '..', '..', '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

// Defaults for development only where neither the environment nor the .env file sets them; the server
// itself reads the .env file again at every restart, so edits to it apply on the next restart.
const seen: Record<string, string | undefined> = { ...process.env };
const envFile = loadEnvFile(seen);
const env = { ...process.env };
if (seen.NODE_ENV === undefined) env.NODE_ENV = 'development';
if (seen.LOG_PRETTY === undefined && (seen.NODE_ENV ?? 'development') === 'development') env.LOG_PRETTY = 'true';

const watchPaths = [path.join(root, 'dist', 'src'), ...(envFile ? [envFile] : [])].flatMap((p) => ['--watch-path', p]);
const children: ChildProcess[] = [
  spawn(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json'), '--watch', '--preserveWatchOutput'], {
    stdio: 'inherit',
  }),
  spawn(
    process.execPath,
    [...watchPaths, '--watch-preserve-output', '--max-semi-space-size=8', path.join(root, 'dist', 'src', 'main.js')],
    { stdio: 'inherit', env },
  ),
];

let stopping = false;
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  process.exitCode = code;
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
// Either half ending on its own (a config error, tsc crashing) ends the loop: a server that is not
// restarted on change would be worse than a clear stop.
for (const child of children) child.on('exit', (code) => stop(code ?? 1));
