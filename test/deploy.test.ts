// The deploy files agree with the code: both Kustomize overlays (rendered with `kubectl kustomize`),
// deploy/compose.yaml, deploy/nginx.conf, the Dockerfiles and the systemd unit are checked against
// src/config.ts (every variable name they set is one the config module reads, and every value it accepts),
// against the server's routes (probe paths answer 200 on a running server) and against each other.
// CI has kubectl (.ci/run renders both overlays too): there a missing kubectl fails the run; locally the
// Kubernetes checks skip.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { freePort, httpStatus as getStatus } from '../bench/lib/net';
import { DEFAULT_TRUSTED_DOCUMENTS_FILE, loadConfig, loadEnvFile } from '../src/config';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const DEFAULTS = loadConfig({});

/**
 * Every environment variable name src/config.ts reads, found by running it on an environment that records
 * each name asked for. New settings are picked up without a list to keep in step. Both the defaults path
 * and the path a given environment takes run, so names read only under some settings are seen too.
 */
function namesConfigReads(...envs: Array<Record<string, string>>): Set<string> {
  const names = new Set<string>();
  const recording = (base: Record<string, string>) =>
    new Proxy({ ...base } as Record<string, string | undefined>, {
      get(target, key) {
        if (typeof key === 'string') names.add(key);
        return target[key as string];
      },
      has(target, key) {
        if (typeof key === 'string') names.add(key);
        return key in target;
      },
    });
  const emptyDir = mkdtempSync(path.join(os.tmpdir(), 'pm-deploy-'));
  try {
    for (const env of [{}, ...envs]) {
      try {
        loadEnvFile(recording(env), emptyDir);
      } catch {
        // a named ENV_FILE that is not there: the name was still read
      }
      try {
        loadConfig(recording(env));
      } catch {
        // a value valid only where it is deployed (a file path): the names read so far count
      }
    }
  } finally {
    rmSync(emptyDir, { recursive: true, force: true });
  }
  return names;
}

const KNOWN = namesConfigReads();

function assertKnown(names: Iterable<string>, where: string): void {
  const unknown = [...names].filter((n) => !KNOWN.has(n));
  assert.deepEqual(unknown, [], `${where} sets variables src/config.ts never reads: ${unknown.join(', ')}`);
}

function durationMs(value: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(value);
  assert.ok(m, `not a duration: ${value}`);
  return Number(m[1]) * { ms: 1, s: 1_000, m: 60_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm'];
}

describe('namesConfigReads', () => {
  it('sees the settings config.ts reads, including file-based and derived ones, and nothing it does not', () => {
    for (const name of ['PORT', 'NODE_ENV', 'SHUTDOWN_TIMEOUT_MS', 'TRUST_PROXY', 'API_KEYS_FILE', 'RATE_LIMIT_REDIS_URL', 'ENV_FILE']) {
      assert.ok(KNOWN.has(name), `${name} not recorded`);
    }
    assert.equal(KNOWN.has('NOT_A_SETTING'), false);
  });
});

describe('.env.example and the configuration table (docs/configuration.md)', () => {
  it('list every variable src/config.ts reads', () => {
    const example = read('.env.example');
    const doc = read('docs/configuration.md');
    assert.ok(doc.includes('## Variables'), 'docs/configuration.md has no "## Variables" section');
    const configSection = doc.slice(doc.indexOf('## Variables'), doc.indexOf('\n## ', doc.indexOf('## Variables') + 5));
    const notInExample = [...KNOWN].filter((n) => !new RegExp(`^#?${n}=`, 'm').test(example));
    const notInReadme = [...KNOWN].filter((n) => !configSection.includes(`\`${n}\``));
    assert.deepEqual(notInExample, [], `.env.example lacks ${notInExample.join(', ')}`);
    assert.deepEqual(notInReadme, [], `docs/configuration.md's table lacks ${notInReadme.join(', ')}`);
  });
});

// ---------------------------------------------------------------- Kubernetes

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
if (!kubectl && process.env.CI === 'true') {
  throw new Error('kubectl is not installed, but CI=true: the rendered Kustomize overlays must be checked in CI');
}
const skipKube = kubectl ? false : 'kubectl not found (needed to render deploy/kubernetes/overlays/*)';

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
};

function render(overlay: 'cpu' | 'gpu'): K8sObject[] {
  const out = spawnSync('kubectl', ['kustomize', path.join(ROOT, 'deploy', 'kubernetes', 'overlays', overlay)], { encoding: 'utf8' });
  assert.equal(out.status, 0, `kubectl kustomize ${overlay} failed: ${out.stderr}`);
  return parseAllDocuments(out.stdout).map((d) => d.toJS() as K8sObject);
}

function one(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name.startsWith(name));
  assert.equal(found.length, 1, `expected one ${kind} ${name}*, found ${found.length}`);
  return found[0];
}

interface Rendered {
  objects: K8sObject[];
  deployment: K8sObject;
  container: any;
  /** The container's environment: the ConfigMap it loads plus its own env entries. */
  env: Record<string, string>;
  envNames: string[];
}

function inspect(objects: K8sObject[]): Rendered {
  const deployment = one(objects, 'Deployment', 'predictive-maintenance-api');
  const container = deployment.spec.template.spec.containers.find((c: any) => c.name === 'api');
  assert.ok(container, 'no api container');
  const env: Record<string, string> = {};
  const envNames: string[] = [];
  for (const source of container.envFrom ?? []) {
    const map = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === source.configMapRef?.name);
    assert.ok(map, `envFrom names ConfigMap ${source.configMapRef?.name}, which the overlay does not render`);
    Object.assign(env, map.data);
    envNames.push(...Object.keys(map.data ?? {}));
  }
  for (const entry of container.env ?? []) {
    envNames.push(entry.name);
    if (typeof entry.value === 'string') env[entry.name] = entry.value;
  }
  return { objects, deployment, container, env, envNames };
}

describe('Kustomize overlays (kubectl kustomize)', { skip: skipKube }, () => {
  let cpu: Rendered;
  let gpu: Rendered;
  before(() => {
    cpu = inspect(render('cpu'));
    gpu = inspect(render('gpu'));
  });

  it('render the objects the base promises, in both overlays', () => {
    for (const r of [cpu, gpu]) {
      const kinds = r.objects.map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort();
      assert.deepEqual(kinds, [
        'ConfigMap/predictive-maintenance-alerts',
        'ConfigMap/predictive-maintenance-api',
        'ConfigMap/predictive-maintenance-dashboard',
        'Deployment/predictive-maintenance-api',
        'Deployment/predictive-maintenance-redis',
        'HorizontalPodAutoscaler/predictive-maintenance-api',
        'NetworkPolicy/predictive-maintenance-api',
        'NetworkPolicy/predictive-maintenance-redis',
        'PodDisruptionBudget/predictive-maintenance-api',
        'Service/predictive-maintenance-api',
        'Service/predictive-maintenance-redis',
      ]);
    }
  });

  it('set only variables src/config.ts reads, with values it accepts', () => {
    for (const [overlay, r] of [
      ['cpu', cpu],
      ['gpu', gpu],
    ] as const) {
      const known = namesConfigReads(r.env);
      const unknown = r.envNames.filter((n) => !known.has(n));
      assert.deepEqual(unknown, [], `${overlay} overlay sets variables src/config.ts never reads: ${unknown.join(', ')}`);
      const config = loadConfig(r.env);
      assert.equal(config.production, true, `${overlay}: NODE_ENV=production`);
      assert.equal(config.protection.rateLimit.redisUrl !== undefined, true, `${overlay}: replicas share the budget through Redis`);
    }
  });

  it('listen on the port the config module uses, and the Service and probes point at it', () => {
    for (const r of [cpu, gpu]) {
      const port = loadConfig(r.env).server.port;
      assert.equal(port, DEFAULTS.server.port, 'the ConfigMap keeps the default PORT');
      const http = r.container.ports.find((p: any) => p.name === 'http');
      assert.equal(http.containerPort, port);
      for (const probe of [r.container.readinessProbe, r.container.livenessProbe]) {
        assert.ok(probe.httpGet.port === 'http' || probe.httpGet.port === port, `probe port ${probe.httpGet.port}`);
      }
      const service = one(r.objects, 'Service', 'predictive-maintenance-api');
      assert.ok(service.spec.ports.some((p: any) => p.targetPort === 'http' || p.targetPort === port));
    }
  });

  it('probe /readyz for readiness and /healthz for liveness', () => {
    for (const r of [cpu, gpu]) {
      assert.equal(r.container.readinessProbe.httpGet.path, '/readyz');
      assert.equal(r.container.livenessProbe.httpGet.path, '/healthz');
    }
  });

  it('give a stopping pod longer than its preStop pause plus SHUTDOWN_TIMEOUT_MS', () => {
    for (const r of [cpu, gpu]) {
      const pod = r.deployment.spec.template.spec;
      const preStop = r.container.lifecycle?.preStop;
      assert.ok(preStop, 'a preStop pause lets endpoints drop the pod before SIGTERM');
      const command: string[] = preStop.exec?.command ?? [];
      const pauseSeconds = preStop.sleep?.seconds ?? (command[0] === 'sleep' ? Number(command[1]) : NaN);
      assert.ok(pauseSeconds > 0, `preStop pause: ${JSON.stringify(preStop)}`);
      const shutdownMs = loadConfig(r.env).server.shutdownTimeoutMs;
      assert.ok(
        pod.terminationGracePeriodSeconds * 1000 > pauseSeconds * 1000 + shutdownMs,
        `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} <= preStop ${pauseSeconds} s + SHUTDOWN_TIMEOUT_MS ${shutdownMs}`,
      );
    }
  });

  it('trust exactly one proxy hop (TRUST_PROXY as a hop count)', () => {
    for (const r of [cpu, gpu]) {
      assert.match(r.env.TRUST_PROXY ?? '', /^[1-9]\d*$/, `TRUST_PROXY=${r.env.TRUST_PROXY}`);
      assert.equal(r.env.TRUST_PROXY, '1');
    }
  });

  it('run non-root on a read-only root filesystem, with resources and the restricted profile', () => {
    for (const r of [cpu, gpu]) {
      for (const name of ['predictive-maintenance-api', 'predictive-maintenance-redis']) {
        const pod = one(r.objects, 'Deployment', name).spec.template.spec;
        assert.equal(pod.securityContext.runAsNonRoot, true, name);
        assert.ok(pod.securityContext.runAsUser > 0, name);
        for (const c of pod.containers) {
          assert.equal(c.securityContext.readOnlyRootFilesystem, true, `${name}/${c.name}`);
          assert.equal(c.securityContext.allowPrivilegeEscalation, false, `${name}/${c.name}`);
          assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], `${name}/${c.name}`);
          assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${name}/${c.name} resources`);
        }
      }
    }
  });

  it('wire the Service, HPA, PodDisruptionBudget and NetworkPolicies to the API pods, and Redis to RATE_LIMIT_REDIS_URL', () => {
    for (const r of [cpu, gpu]) {
      const podLabels = r.deployment.spec.template.metadata.labels;
      const matches = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
      assert.ok(matches(one(r.objects, 'Service', 'predictive-maintenance-api').spec.selector));
      assert.ok(matches(one(r.objects, 'PodDisruptionBudget', 'predictive-maintenance-api').spec.selector.matchLabels));
      assert.ok(matches(one(r.objects, 'NetworkPolicy', 'predictive-maintenance-api').spec.podSelector.matchLabels));
      const hpa = one(r.objects, 'HorizontalPodAutoscaler', 'predictive-maintenance-api').spec;
      assert.deepEqual(hpa.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: r.deployment.metadata.name });
      assert.equal(hpa.metrics[0].resource.name, 'cpu');
      assert.ok(hpa.minReplicas >= 2, 'a PodDisruptionBudget with one replica would block node drains');

      const redisUrl = new URL(r.env.RATE_LIMIT_REDIS_URL);
      const redisService = one(r.objects, 'Service', redisUrl.hostname);
      assert.ok(redisService.spec.ports.some((p: any) => p.port === Number(redisUrl.port)));
      const redisPolicy = one(r.objects, 'NetworkPolicy', 'predictive-maintenance-redis').spec;
      assert.ok(
        redisPolicy.ingress[0].from.some((f: any) => matches(f.podSelector.matchLabels)),
        'Redis admits the API pods',
      );
    }
  });

  it('gpu asks for one GPU, the CUDA image and INFERENCE_DEVICE=cuda; cpu asks for none', () => {
    assert.equal(String(gpu.container.resources.limits['nvidia.com/gpu']), '1');
    assert.equal(gpu.env.INFERENCE_DEVICE, 'cuda');
    assert.equal(loadConfig(gpu.env).inference.device, 'cuda');
    assert.match(gpu.container.image, /cuda/);
    assert.equal(cpu.container.resources.limits['nvidia.com/gpu'], undefined);
    assert.equal(cpu.env.INFERENCE_DEVICE, 'cpu');
    assert.doesNotMatch(cpu.container.image, /cuda/);
  });

  describe('probe paths on a running server', () => {
    let child: ReturnType<typeof spawn> | undefined;
    let port = 0;
    let output = '';
    before(async () => {
      port = await freePort();
      child = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'main.js')], {
        cwd: os.tmpdir(),
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'production',
          HOST: '127.0.0.1',
          PORT: String(port),
          MODEL_DIR: path.resolve(ROOT, process.env.MODEL_DIR ?? 'models'),
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d: Buffer) => (output += d));
      child.stderr!.on('data', (d: Buffer) => (output += d));
      const deadline = Date.now() + 30_000;
      while ((await getStatus(port, '/readyz')) !== 200) {
        assert.ok(Date.now() < deadline && child.exitCode === null, `server did not become ready: ${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    after(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    });

    it('answer 200 for every probe path the overlays use (and 404 for a path the server lacks)', async () => {
      const paths = new Set<string>();
      for (const r of [cpu, gpu]) {
        for (const probe of [r.container.readinessProbe, r.container.livenessProbe, r.container.startupProbe]) {
          if (probe?.httpGet) paths.add(probe.httpGet.path);
        }
      }
      assert.deepEqual([...paths].sort(), ['/healthz', '/readyz']);
      for (const p of paths) assert.equal(await getStatus(port, p), 200, p);
      assert.equal(await getStatus(port, '/no-such-probe'), 404);
    });
  });
});

// ---------------------------------------------------------------- compose, nginx, Dockerfiles, systemd

describe('deploy/compose.yaml and deploy/nginx.conf', () => {
  const compose = parse(read('deploy/compose.yaml'), { merge: true });
  const nginx = read('deploy/nginx.conf');
  const apis = Object.keys(compose.services)
    .filter((s) => s.startsWith('api-'))
    .sort();

  it('run two API replicas, Redis and nginx, nginx published', () => {
    assert.deepEqual(apis, ['api-1', 'api-2']);
    assert.ok(compose.services.redis);
    assert.match(compose.services.nginx.image, /^nginx:/);
    assert.ok(compose.services.nginx.ports.some((p: string) => String(p).endsWith(':80')));
    assert.ok(compose.services.nginx.volumes.includes('./nginx.conf:/etc/nginx/nginx.conf:ro'));
  });

  it('set only variables src/config.ts reads, with values it accepts, TRUST_PROXY as one hop', () => {
    for (const name of apis) {
      const env: Record<string, string> = compose.services[name].environment;
      const known = namesConfigReads(env);
      const unknown = Object.keys(env).filter((n) => !known.has(n));
      assert.deepEqual(unknown, [], `${name} sets variables src/config.ts never reads: ${unknown.join(', ')}`);
      const config = loadConfig(env);
      assert.equal(config.production, true);
      assert.equal(env.TRUST_PROXY, '1');
      assert.equal(new URL(env.RATE_LIMIT_REDIS_URL).hostname, 'redis', 'the Redis service by name');
      assert.ok(
        durationMs(compose.services[name].stop_grace_period) > config.server.shutdownTimeoutMs,
        'stop_grace_period > SHUTDOWN_TIMEOUT_MS',
      );
      assert.ok(compose.services[name].read_only, 'read-only root filesystem');
    }
  });

  it('nginx proxies to every replica on its PORT, forwards the client address and retries on a stopping replica', () => {
    const upstream = /upstream api \{([\s\S]*?)\}/.exec(nginx)?.[1] ?? '';
    const servers = [...upstream.matchAll(/^\s*server ([^\s;]+)/gm)].map((m) => m[1]).sort();
    assert.deepEqual(
      servers,
      apis.map((name) => `${name}:${loadConfig(compose.services[name].environment).server.port}`),
    );
    assert.match(nginx, /proxy_pass http:\/\/api;/);
    assert.match(nginx, /proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/);
    // What test/fleet.test.ts shows is needed for no lost POST when a replica stops (without
    // non_idempotent a request on a keep-alive connection the draining replica closed gets a 502).
    assert.match(nginx, /proxy_next_upstream error http_502 http_503 non_idempotent;/);
    const bodyCap = /client_max_body_size (\d+)m;/.exec(nginx);
    assert.ok(bodyCap && Number(bodyCap[1]) * 1_048_576 > DEFAULTS.limits.bodyLimitBytes, 'the API, not nginx, answers oversized bodies');
  });
});

describe('Dockerfiles and the systemd unit', () => {
  const envNames = (dockerfile: string) =>
    [...dockerfile.matchAll(/^ENV (.+)$/gm)].flatMap((m) => [...m[1].matchAll(/([A-Z_][A-Z0-9_]*)=/g)].map((n) => n[1]));

  it('set only variables src/config.ts reads, expose PORT, check /readyz and run as a numeric non-root user', () => {
    for (const file of ['deploy/Dockerfile', 'deploy/Dockerfile.cuda']) {
      const text = read(file);
      assertKnown(envNames(text), file);
      assert.match(text, new RegExp(`^EXPOSE ${DEFAULTS.server.port}$`, 'm'), file);
      assert.match(text, /^HEALTHCHECK .*\/readyz/m, file);
      assert.match(text, /^USER [1-9]\d*:[1-9]\d*$/m, file);
      assert.match(text, /^ARG NODE_IMAGE=node:\d+-[a-z]+-slim$/m, file);
    }
    const cuda = read('deploy/Dockerfile.cuda');
    assert.match(cuda, /^ENV .*INFERENCE_DEVICE=cuda/m);
    assert.match(cuda, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
    assert.match(cuda, /^ARG CUDA_IMAGE=nvidia\/cuda:12\.[\d.]+-cudnn-runtime-/m);
  });

  it("the runtime stage holds the files production's defaults read: the models and the trusted-documents manifest", () => {
    const relative = path.relative(ROOT, DEFAULT_TRUSTED_DOCUMENTS_FILE);
    assert.equal(relative, path.join('client', 'persisted-documents.json'));
    for (const file of ['deploy/Dockerfile', 'deploy/Dockerfile.cuda']) {
      const runtime = read(file)
        .split(/^FROM /m)
        .at(-1)!;
      assert.match(runtime, new RegExp(`^COPY ${relative.replace(/[.]/g, '\\.')} \\./${relative.replace(/[.]/g, '\\.')}$`, 'm'), file);
      assert.match(runtime, /^COPY models \.\/models$/m, file);
    }
  });

  it('systemd: known variables, and a stop timeout longer than SHUTDOWN_TIMEOUT_MS', () => {
    const unit = read('deploy/predictive-maintenance-api.service');
    assertKnown(
      [...unit.matchAll(/^Environment=([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]),
      'the systemd unit',
    );
    const stop = /^TimeoutStopSec=(\d+)$/m.exec(unit);
    assert.ok(stop && Number(stop[1]) * 1000 > DEFAULTS.server.shutdownTimeoutMs);
  });
});
