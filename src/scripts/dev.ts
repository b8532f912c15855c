/**
 * `npm run dev`: the TypeScript compiler in watch mode beside the server under `node --watch`, so a saved
 * source file is rebuilt into dist/ and the server restarts on it (node --watch sends SIGTERM, so the
 * restart drains like a deployment would). Logs are pretty-printed unless LOG_PRETTY says otherwise.
 * No extra dependencies: tsc and node's own watch mode.
 */
import { spawn } from 'node:child_process';
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
const compiler = spawn(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json'), '--watch', '--preserveWatchOutput'], {
  stdio: 'inherit',
});
// node --watch and the server it runs get a process group of their own: node --watch does not reliably pass
// a signal on while it is restarting the server, so stopping signals the whole group.
const server = spawn(
  process.execPath,
  [
    ...watchPaths,
    '--watch-preserve-output',
    '--max-semi-space-size=8',
    '--max-old-space-size=384',
    path.join(root, 'dist', 'src', 'main.js'),
  ],
  { stdio: 'inherit', env, detached: true },
);

let stopping = false;
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  if (compiler.exitCode === null) compiler.kill('SIGTERM');
  const signalServer = (signal: NodeJS.Signals) => {
    try {
      process.kill(-server.pid!, signal);
    } catch {
      // the group is gone already
    }
  };
  signalServer('SIGTERM');
  // The server drains for up to SHUTDOWN_TIMEOUT_MS; past that (or if a restart swallowed the signal) end it.
  setTimeout(() => signalServer('SIGKILL'), 15_000).unref();
}
// Ctrl-C reaches the compiler through the terminal; the server's own group hears it from here.
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
// Either half ending on its own (tsc crashing, the watcher dying) ends the loop: a server that is no longer
// rebuilt on change would be worse than a clear stop.
compiler.on('exit', (code) => stop(code ?? 1));
server.on('exit', (code) => {
  // node --watch is gone: make sure the server it ran is too.
  stop(code ?? 1);
  try {
    process.kill(-server.pid!, 'SIGKILL');
  } catch {
    // nothing left
  }
});
