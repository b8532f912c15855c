/**
 * `npm run dev`: the TypeScript compiler in watch mode beside the server under `node --watch`, so a saved
 * source file is rebuilt into dist/ and the server restarts on it (node --watch sends SIGTERM, so the
 * restart drains like a deployment would). Logs are pretty-printed unless LOG_PRETTY says otherwise.
 * No extra dependencies: tsc and node's own watch mode.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { loadEnvFile } from '../config';

/** What the loop needs of its own process (tests pass a recorder). */
export interface DevHost {
  env: NodeJS.ProcessEnv;
  execPath: string;
  exitCode?: number | string | null | undefined;
  on(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  kill(pid: number, signal: NodeJS.Signals): unknown;
}

/** The repository this script was built in (dist/src/scripts/ is three levels down). */
export const DEV_ROOT = path.resolve(__dirname, '..', '..', '..');

export type Spawn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/**
 * The server's environment: defaults for development only where neither the environment nor the .env file
 * (in `cwd`) sets them; the server itself reads the .env file again at every restart, so edits to it apply
 * on the next restart. Also returns the .env file read, if any (the server restarts when it changes).
 */
export function devEnv(processEnv: NodeJS.ProcessEnv, cwd?: string): { env: NodeJS.ProcessEnv; envFile: string | undefined } {
  const seen: Record<string, string | undefined> = { ...processEnv };
  const envFile = loadEnvFile(seen, cwd);
  const env = { ...processEnv };
  if (seen.NODE_ENV === undefined) env.NODE_ENV = 'development';
  if (seen.LOG_PRETTY === undefined && (seen.NODE_ENV ?? 'development') === 'development') env.LOG_PRETTY = 'true';
  return { env, envFile };
}

/** Starts tsc --watch and the server under node --watch from `root`, and ties their lives together. */
export function runDev(
  root: string,
  host: DevHost = process,
  spawnChild: Spawn = spawn,
  later: (fn: () => void, ms: number) => { unref(): unknown } = setTimeout,
  cwd?: string,
): void {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const { env, envFile } = devEnv(host.env, cwd);
  const watchPaths = [path.join(root, 'dist', 'src'), ...(envFile ? [envFile] : [])].flatMap((p) => ['--watch-path', p]);
  const compiler = spawnChild(host.execPath, [tsc, '-p', path.join(root, 'tsconfig.json'), '--watch', '--preserveWatchOutput'], {
    stdio: 'inherit',
  });
  // node --watch and the server it runs get a process group of their own: node --watch does not reliably pass
  // a signal on while it is restarting the server, so stopping signals the whole group.
  const server = spawnChild(
    host.execPath,
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
    host.exitCode = code;
    if (compiler.exitCode === null) compiler.kill('SIGTERM');
    const signalServer = (signal: NodeJS.Signals) => {
      try {
        host.kill(-server.pid!, signal);
      } catch {
        // the group is gone already
      }
    };
    signalServer('SIGTERM');
    // The server drains for up to SHUTDOWN_TIMEOUT_MS; past that (or if a restart swallowed the signal) end it.
    later(() => signalServer('SIGKILL'), 15_000).unref();
  }
  // Ctrl-C reaches the compiler through the terminal; the server's own group hears it from here.
  host.on('SIGINT', () => stop(0));
  host.on('SIGTERM', () => stop(0));
  // Either half ending on its own (tsc crashing, the watcher dying) ends the loop: a server that is no longer
  // rebuilt on change would be worse than a clear stop.
  compiler.on('exit', (code) => stop(code ?? 1));
  server.on('exit', (code) => {
    // node --watch is gone: make sure the server it ran is too.
    stop(code ?? 1);
    try {
      host.kill(-server.pid!, 'SIGKILL');
    } catch {
      // nothing left
    }
  });
}

// Stryker disable next-line ConditionalExpression,EqualityOperator: run on import, the loop would start a real tsc --watch and server inside the test run; the entry itself is test/dev.test.ts's
if (require.main === module) runDev(DEV_ROOT);
