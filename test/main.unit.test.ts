import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino, { type Logger } from 'pino';
import type { App } from '../src/app';
import { ConfigError, loadConfig, type Config } from '../src/config';
import { ModelHost } from '../src/inference/model-host';
import { main, type MainDeps } from '../src/main';
import { TrustedDocumentsError } from '../src/protection/trusted-documents';

// The process entry (src/main.ts) on fakes: the config read and refused (exit 2), the cluster primary, the
// app created, announced, served and stopped on signals, the model loaded or refused (exit 1, or 2 for a shadow).

const ROOT = path.resolve(__dirname, '..', '..');
// No .env file is read: ENV_FILE names an empty one.
const BASE_ENV = { ENV_FILE: '/dev/null', NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' };

interface Recorded {
  deps: Partial<MainDeps>;
  stderr: string[];
  exits: number[];
  signals: Map<string, () => void>;
  lines: Array<Record<string, unknown>>;
  flushes: number[];
  calls: string[];
  app: { listen: () => Promise<{ port: number; url: string }>; stop: () => Promise<void> };
  readies: number;
  loggers: Array<Config['observability']>;
  models: unknown[];
  exited: Promise<number>;
}

function recorder(env: Record<string, string> = {}, overrides: Partial<MainDeps> = {}, url = 'http://localhost:4321/graphql'): Recorded {
  let exited!: (code: number) => void;
  const r: Recorded = {
    deps: {},
    stderr: [],
    exits: [],
    signals: new Map(),
    lines: [],
    flushes: [],
    calls: [],
    readies: 0,
    loggers: [],
    models: [],
    exited: new Promise((resolve) => (exited = resolve)),
    app: {
      listen: async () => {
        r.calls.push('listen');
        return { port: 4321, url };
      },
      stop: async () => {
        r.calls.push('stop');
      },
    },
  };
  const sink = Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        for (const line of String(chunk).split('\n').filter(Boolean)) r.lines.push(JSON.parse(line));
        cb();
      },
    }),
    { flush: (cb: () => void) => (r.flushes.push(r.lines.length), cb()) },
  );
  r.deps = {
    proc: {
      env: { ...BASE_ENV, ...env },
      stderr: { write: (text: string) => r.stderr.push(text) },
      exit: (code: number) => {
        r.exits.push(code);
        exited(code);
      },
      once: (signal, listener) => r.signals.set(signal, listener),
    },
    isPrimary: true,
    createLogger: (config) => {
      r.loggers.push(config as Config['observability']);
      return pino({ level: config.logLevel }, sink);
    },
    runPrimary: () => void r.calls.push('runPrimary'),
    createApp: async (_config, _logger, models) => {
      r.calls.push('createApp');
      r.models.push(models);
      return r.app as unknown as App;
    },
    attachProcess: async (app, models, config, logger) => {
      r.calls.push('attach');
      assert.equal(app, r.app);
      assert.equal(models, r.models[0]);
      assert.equal(config.server.port, 0);
      assert.equal(typeof logger.info, 'function');
      return { ready: () => void r.readies++ };
    },
    loadModel: async (config, _logger, models) => {
      r.calls.push('loadModel');
      assert.equal(models, r.models[0]);
      return {
        manifest: { name: 'unit-model', version: '9.1.0' },
        device: 'cpu',
        modelDir: config.inference.modelDir,
      } as never;
    },
    ...overrides,
  };
  return r;
}

const msg = (r: Recorded, text: string) => r.lines.find((l) => l.msg === text);

describe('main: configuration', () => {
  it('refuses a bad configuration with its message on stderr and exit 2, before any logger or app', async () => {
    const r = recorder({ PORT: 'nope' });
    let expected = '';
    try {
      loadConfig({ ...BASE_ENV, PORT: 'nope' });
    } catch (err) {
      expected = (err as ConfigError).message;
    }
    assert.ok(expected.length > 0);
    await main(r.deps);
    assert.deepEqual(r.stderr, [`${expected}\n`]);
    assert.deepEqual(r.exits, [2]);
    assert.deepEqual(r.loggers, []);
    assert.deepEqual(r.calls, []);
  });

  it('refuses an ENV_FILE that cannot be read the same way', async () => {
    const r = recorder({ ENV_FILE: path.join(ROOT, 'no-such-file.env') });
    await main(r.deps);
    assert.equal(r.stderr.length, 1);
    assert.equal(r.stderr[0], `Invalid configuration: ENV_FILE: cannot read ${path.join(ROOT, 'no-such-file.env')}: ENOENT\n`);
    assert.deepEqual(r.exits, [2]);
    assert.deepEqual(r.calls, []);
  });

  it('reads the environment it is given (and the .env file it names) into the config the logger and app get', async () => {
    const r = recorder({ LOG_LEVEL: 'warn' });
    let seen: Config | undefined;
    r.deps.createApp = async (config, _logger, models) => {
      seen = config;
      r.models.push(models);
      return r.app as unknown as App;
    };
    await main(r.deps);
    assert.equal(r.loggers[0].logLevel, 'warn');
    assert.equal(seen?.observability, r.loggers[0]);
    assert.equal(seen?.server.host, '127.0.0.1');
  });

  it('lets an error that is not a configuration error through, without an exit', async () => {
    const boom = new Error('environment unreadable');
    const r = recorder();
    r.deps.proc!.env = new Proxy(
      {},
      {
        get() {
          throw boom;
        },
      },
    );
    await assert.rejects(main(r.deps), (err) => err === boom);
    assert.deepEqual(r.exits, []);
    assert.deepEqual(r.stderr, []);
  });
});

describe('main: cluster', () => {
  it('WORKERS > 1 in the primary runs the primary only', async () => {
    const r = recorder({ WORKERS: '2' });
    let args: unknown[] = [];
    r.deps.runPrimary = (...a) => void (args = a);
    await main(r.deps);
    assert.equal((args[0] as Config).server.workers, 2);
    assert.equal(typeof (args[1] as Logger).info, 'function');
    assert.deepEqual(r.calls, []);
  });

  it('a worker (WORKERS > 1, not the primary) and a single process (WORKERS=1) serve', async () => {
    const worker = recorder({ WORKERS: '2' }, { isPrimary: false });
    await main(worker.deps);
    assert.deepEqual(worker.calls, ['createApp', 'listen', 'attach', 'loadModel']);
    const single = recorder({ WORKERS: '1' });
    await main(single.deps);
    assert.deepEqual(single.calls, ['createApp', 'listen', 'attach', 'loadModel']);
  });
});

describe('main: the app', () => {
  it('creates the app on a new model host, announces where it listens, then loads the model and says ready', async () => {
    const r = recorder({ LANDING_PAGE: 'false', SERVE_CONSOLE: 'false' });
    await main(r.deps);
    assert.deepEqual(r.calls, ['createApp', 'listen', 'attach', 'loadModel']);
    assert.ok(r.models[0] instanceof ModelHost);
    const listening = r.lines.find((l) => String(l.msg).startsWith('listening'));
    assert.ok(listening);
    assert.equal(listening.msg, 'listening: GraphQL at http://localhost:4321/graphql');
    assert.equal(listening.graphql, 'http://localhost:4321/graphql');
    assert.equal(listening.env, 'test');
    assert.equal('sandbox' in listening, false);
    assert.equal('console' in listening, false);
    const ready = msg(r, 'model ready');
    assert.ok(ready);
    assert.equal(ready.model, 'unit-model');
    assert.equal(ready.version, '9.1.0');
    assert.equal(ready.device, 'cpu');
    assert.equal(ready.modelDir, path.resolve('models'));
    assert.equal(r.readies, 1);
    assert.deepEqual(r.exits, []);
    assert.deepEqual([...r.signals.keys()].sort(), ['SIGINT', 'SIGTERM']);
  });

  it('names the sandbox and the console when they are served', async () => {
    const r = recorder({ LANDING_PAGE: 'true', SERVE_CONSOLE: 'true' }, {}, 'http://localhost:9/graphql');
    await main(r.deps);
    const listening = r.lines.find((l) => String(l.msg).startsWith('listening'));
    assert.ok(listening);
    assert.equal(
      listening.msg,
      'listening: GraphQL at http://localhost:9/graphql (Apollo Sandbox: open it in a browser); operator console at http://localhost:9/console/',
    );
    assert.equal(listening.sandbox, 'http://localhost:9/graphql');
    assert.equal(listening.console, 'http://localhost:9/console/');
  });

  it('names the console alone when only the console is served', async () => {
    const r = recorder({ LANDING_PAGE: 'false', SERVE_CONSOLE: 'true' }, {}, 'http://localhost:9/graphql');
    await main(r.deps);
    const listening = r.lines.find((l) => String(l.msg).startsWith('listening'));
    assert.equal(listening?.msg, 'listening: GraphQL at http://localhost:9/graphql; operator console at http://localhost:9/console/');
    assert.equal(listening && 'sandbox' in listening, false);
  });

  it('refuses a trusted-documents manifest it cannot serve with exit 2 and the message', async () => {
    const r = recorder();
    const refused = new TrustedDocumentsError('manifest.json: document sha256:abc does not validate', 'manifest.json', 'sha256:abc');
    r.deps.createApp = async () => {
      throw refused;
    };
    await main(r.deps);
    assert.deepEqual(r.stderr, [`${refused.message}\n`]);
    assert.deepEqual(r.exits, [2]);
    assert.deepEqual(r.signals.size, 0);
  });

  it('lets any other failure to create the app through', async () => {
    const r = recorder();
    const boom = new Error('port in use');
    r.deps.createApp = async () => {
      throw boom;
    };
    await assert.rejects(main(r.deps), (err) => err === boom);
    assert.deepEqual(r.exits, []);
    assert.deepEqual(r.stderr, []);
  });
});

describe('main: signals', () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    it(`${signal} drains the app once, logs, flushes and exits 0`, async () => {
      const r = recorder();
      await main(r.deps);
      r.signals.get(signal)!();
      assert.equal(await r.exited, 0);
      assert.deepEqual(r.exits, [0]);
      const shutting = msg(r, 'shutting down: draining in-flight requests');
      assert.equal(shutting?.signal, signal);
      assert.ok(msg(r, 'stopped'));
      assert.deepEqual(r.calls.slice(-1), ['stop']);
      // Flushed after the last line was written, before the exit.
      assert.deepEqual(r.flushes, [r.lines.length]);
      // A second signal while exiting does nothing.
      r.signals.get(signal === 'SIGTERM' ? 'SIGINT' : 'SIGTERM')!();
      r.signals.get(signal)!();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(r.exits, [0]);
      assert.equal(r.calls.filter((c) => c === 'stop').length, 1);
      assert.equal(r.lines.filter((l) => l.msg === 'shutting down: draining in-flight requests').length, 1);
    });
  }

  it('a failed stop is logged and exits 1', async () => {
    const r = recorder();
    const boom = new Error('close failed');
    r.app.stop = async () => {
      throw boom;
    };
    await main(r.deps);
    r.signals.get('SIGTERM')!();
    assert.equal(await r.exited, 1);
    const failed = msg(r, 'error during shutdown');
    assert.equal((failed?.err as { message: string }).message, 'close failed');
    assert.equal(failed?.level, 50);
    assert.equal(msg(r, 'stopped'), undefined);
    assert.deepEqual(r.flushes, [r.lines.length]);
  });
});

describe('main: the model', () => {
  it('a model that fails to load: fatal log, one stderr line, the app stopped, exit 1', async () => {
    const r = recorder();
    r.deps.loadModel = async () => {
      throw new Error('model.onnx missing');
    };
    await main(r.deps);
    const fatal = msg(r, 'model failed to load');
    assert.ok(fatal);
    assert.equal(fatal.level, 60);
    // The message only: no stack trace in the fatal line.
    assert.equal((fatal.err as { message: string }).message, 'model.onnx missing');
    assert.equal((fatal.err as { stack: string }).stack, '');
    assert.deepEqual(r.stderr, ['Model failed to load: model.onnx missing\n']);
    assert.deepEqual(r.flushes, [r.lines.length]);
    assert.deepEqual(r.calls.slice(-1), ['stop']);
    assert.deepEqual(r.exits, [1]);
    assert.equal(r.readies, 0);
  });

  it('a shadow model that fails its checks: exit 2 with the configuration message; a failed stop changes nothing', async () => {
    const r = recorder();
    r.deps.loadModel = async () => {
      throw new ConfigError('SHADOW_MODEL_DIR', 'the shadow model failed its checks: bad');
    };
    let stops = 0;
    r.app.stop = async () => {
      stops++;
      throw new Error('already stopped');
    };
    await main(r.deps);
    const fatal = msg(r, 'shadow model failed to load');
    assert.ok(fatal);
    assert.equal(
      (fatal.err as { message: string }).message,
      new ConfigError('SHADOW_MODEL_DIR', 'the shadow model failed its checks: bad').message,
    );
    assert.deepEqual(r.stderr, [`${new ConfigError('SHADOW_MODEL_DIR', 'the shadow model failed its checks: bad').message}\n`]);
    assert.equal(stops, 1);
    assert.deepEqual(r.exits, [2]);
  });
});

describe('main.js as the process', () => {
  it('runs main when started as a script: a bad configuration exits 2 with its message', () => {
    const out = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'src', 'main.js')], {
      cwd: ROOT,
      // The whole environment: under Stryker it names the mutant the child runs.
      env: { ...process.env, ...BASE_ENV, PORT: 'nope' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(out.status, 2, out.stderr);
    assert.equal(out.stderr, 'Invalid configuration: PORT: expected an integer, got "nope"\n');
  });
});
