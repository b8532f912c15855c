// The model checks as properties (issue 25): every output element of every golden case is compared (one
// element moved past its tolerance, any one, is refused, and the message names it), and every field of
// model.json the server relies on is checked (one field broken, any one, stops the load). No ONNX session:
// checkGolden gets a fake service that answers golden.json's own outputs, changed where a case says so.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkGolden } from '../src/inference/model-check';
import { FAILURE_TYPES, INPUT_FIELDS, INPUT_WIDTH, type ModelOutputs } from '../src/inference/model-io';
import { loadModelArtifacts, ModelLoadError, trainingEnvelope } from '../src/inference/model-manifest';
import { TEST_MODEL_DIR } from './helpers/server';

interface GoldenCase {
  name: string;
  input: number[];
  probabilities: number[];
  reconstructionError: number;
}
interface GoldenFile {
  tolerance: { absolute: number; relative: number };
  cases: GoldenCase[];
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'model-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a golden file; returns its path. */
function goldenFile(name: string, golden: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(golden));
  return file;
}

/** A service that answers `outputs` (golden.json's own, unless changed) and records what it was asked. */
function fakeService(outputs: ModelOutputs) {
  const calls: Array<{ input: Float32Array; count: number }> = [];
  return {
    calls,
    runModel(input: Float32Array, count: number): Promise<ModelOutputs> {
      calls.push({ input, count });
      return Promise.resolve(outputs);
    },
  };
}

/** The outputs a session that reproduces `golden` exactly answers. */
function outputsOf(golden: GoldenFile): { probabilities: Float32Array | number[]; reconstructionError: number[] } {
  return {
    probabilities: golden.cases.flatMap((c) => c.probabilities),
    reconstructionError: golden.cases.map((c) => c.reconstructionError),
  };
}

const asOutputs = (o: { probabilities: ArrayLike<number>; reconstructionError: ArrayLike<number> }) => o as unknown as ModelOutputs;

/** A small deterministic generator (mulberry32), so a failing case can be run again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('checkGolden: every output element of every case is compared', () => {
  const golden = JSON.parse(readFileSync(path.join(TEST_MODEL_DIR, 'golden.json'), 'utf8')) as GoldenFile;
  const file = path.join(TEST_MODEL_DIR, 'golden.json');
  const classes = golden.cases[0].probabilities.length;
  const { absolute, relative } = golden.tolerance;
  const bound = (want: number) => absolute + relative * Math.abs(want);

  it('accepts a session that reproduces golden.json, and sends it every case input, in order, in one run', async () => {
    const service = fakeService(asOutputs(outputsOf(golden)));
    await checkGolden(service, file);
    assert.equal(service.calls.length, 1);
    const { input, count } = service.calls[0];
    assert.equal(count, golden.cases.length);
    assert.equal(input.length, golden.cases.length * INPUT_WIDTH);
    assert.deepEqual(Array.from(input), Array.from(new Float32Array(golden.cases.flatMap((c) => c.input))));
  });

  it('refuses one probability moved past its tolerance, for every case and every class, either way', async () => {
    const next = random(25);
    for (let i = 0; i < golden.cases.length; i++) {
      for (let k = 0; k < classes; k++) {
        const out = outputsOf(golden);
        const want = golden.cases[i].probabilities[k];
        const sign = next() < 0.5 ? -1 : 1;
        const got = want + sign * bound(want) * (1.5 + next());
        (out.probabilities as number[])[i * classes + k] = got;
        await assert.rejects(checkGolden(fakeService(asOutputs(out)), file), (err: Error) => {
          assert.ok(err instanceof ModelLoadError, `case ${i} class ${k}: ${err}`);
          assert.equal(
            err.message,
            `golden case "${golden.cases[i].name}": probability ${k} is ${got}, expected ${want} (outside tolerance)`,
          );
          return true;
        });
      }
    }
  });

  it('refuses one reconstruction error moved past its tolerance, for every case, either way', async () => {
    const next = random(2025);
    for (let i = 0; i < golden.cases.length; i++) {
      const out = outputsOf(golden);
      const want = golden.cases[i].reconstructionError;
      const got = want + (next() < 0.5 ? -1 : 1) * bound(want) * (1.5 + next());
      out.reconstructionError[i] = got;
      await assert.rejects(checkGolden(fakeService(asOutputs(out)), file), (err: Error) => {
        assert.ok(err instanceof ModelLoadError);
        assert.equal(
          err.message,
          `golden case "${golden.cases[i].name}": reconstruction error is ${got}, expected ${want} (outside tolerance)`,
        );
        return true;
      });
    }
  });

  it('accepts every element moved by less than its tolerance', async () => {
    const next = random(7);
    const out = outputsOf(golden);
    const p = out.probabilities as number[];
    for (let j = 0; j < p.length; j++) p[j] += (next() < 0.5 ? -1 : 1) * bound(p[j]) * 0.9;
    out.reconstructionError = out.reconstructionError.map((e) => e + (next() < 0.5 ? -1 : 1) * bound(e) * 0.9);
    await checkGolden(fakeService(asOutputs(out)), file);
  });

  it('applies |got - want| <= absolute + relative * |want|: both parts, the boundary itself allowed', async () => {
    // Exact binary fractions, so the boundary is hit exactly.
    const rule = (absolute: number, relative: number, want: number) =>
      goldenFile('rule.json', {
        tolerance: { absolute, relative },
        cases: [{ name: 'only', input: [1, 2, 3, 4, 5, 0], probabilities: [want, 0.5], reconstructionError: 0.5 }],
      });
    const run = (file: string, got: number) =>
      checkGolden(fakeService(asOutputs({ probabilities: [got, 0.5], reconstructionError: [0.5] })), file);
    await run(rule(0.25, 0, 0.5), 0.75); // |0.25| <= 0.25 + 0
    await run(rule(0.25, 0, 0.5), 0.25);
    await assert.rejects(run(rule(0.25, 0, 0.5), 0.8125), /probability 0 is 0.8125/);
    await run(rule(0, 0.5, -0.5), -0.25); // |0.25| <= 0 + 0.5 * |-0.5|
    await run(rule(0, 0.5, -0.5), -0.75);
    await assert.rejects(run(rule(0, 0.5, -0.5), -0.8125), /probability 0 is -0.8125, expected -0.5/);
    await run(rule(0.125, 0.25, 0.5), 0.75); // |0.25| <= 0.125 + 0.25 * 0.5
    await assert.rejects(run(rule(0.125, 0.25, 0.5), 0.78125), /outside tolerance/);
  });

  it('refuses golden files it cannot read or that lack cases or a numeric tolerance, naming the file', async () => {
    const svc = fakeService(asOutputs(outputsOf(golden)));
    const missing = path.join(dir, 'absent.json');
    await assert.rejects(checkGolden(svc, missing), (err: Error) => {
      assert.ok(err instanceof ModelLoadError);
      assert.equal(err.message, `${missing}: cannot read golden outputs (ENOENT)`);
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENOENT');
      return true;
    });
    const garbled = path.join(dir, 'garbled.json');
    writeFileSync(garbled, '{"cases": [');
    await assert.rejects(checkGolden(svc, garbled), (err: Error) => {
      assert.ok(err instanceof ModelLoadError);
      assert.ok(err.message.startsWith(`${garbled}: cannot read golden outputs (`), err.message);
      assert.ok(err.cause instanceof SyntaxError);
      assert.ok(err.message.includes((err.cause as Error).message));
      return true;
    });
    const needs = (name: string) => `${path.join(dir, name)}: needs "cases" and numeric "tolerance.absolute" and "tolerance.relative"`;
    const broken: Array<[string, unknown]> = [
      ['no-cases.json', { tolerance: golden.tolerance }],
      ['empty-cases.json', { tolerance: golden.tolerance, cases: [] }],
      ['object-cases.json', { tolerance: golden.tolerance, cases: { 0: golden.cases[0] } }],
      ['no-tolerance.json', { cases: golden.cases }],
      ['no-absolute.json', { tolerance: { relative: 0.1 }, cases: golden.cases }],
      ['no-relative.json', { tolerance: { absolute: 0.1 }, cases: golden.cases }],
      ['string-absolute.json', { tolerance: { absolute: '0.1', relative: 0.1 }, cases: golden.cases }],
    ];
    for (const [name, content] of broken) {
      await assert.rejects(checkGolden(svc, goldenFile(name, content)), (err: Error) => {
        assert.ok(err instanceof ModelLoadError, name);
        assert.equal(err.message, needs(name));
        return true;
      });
    }
    assert.equal(svc.calls.length, 0, 'nothing runs before the file is valid');
  });
});

describe('loadModelArtifacts: every field the server relies on is checked', () => {
  const modelDir = path.join(dir, 'model');
  const manifestPath = path.join(modelDir, 'model.json');
  const original = readFileSync(path.join(TEST_MODEL_DIR, 'model.json'), 'utf8');
  const onnx = readFileSync(path.join(TEST_MODEL_DIR, 'model.onnx'));
  before(() => {
    mkdirSync(modelDir);
    copyFileSync(path.join(TEST_MODEL_DIR, 'model.onnx'), path.join(modelDir, 'model.onnx'));
  });

  /** Loads model.json as `change` leaves it. */
  function loadWith(change: (m: any) => void) {
    const manifest = JSON.parse(original);
    change(manifest);
    writeFileSync(manifestPath, JSON.stringify(manifest));
    return loadModelArtifacts(modelDir);
  }
  async function refused(change: (m: any) => void, message: string | RegExp, what: string) {
    await assert.rejects(loadWith(change), (err: Error) => {
      assert.ok(err instanceof ModelLoadError, `${what}: ${err}`);
      if (typeof message === 'string') assert.equal(err.message, `${manifestPath}: ${message}`, what);
      else assert.match(err.message, message, what);
      return true;
    });
  }

  it('loads the shipped model: the manifest as written, and the ONNX bytes it names', async () => {
    const { manifest, onnx: bytes } = await loadWith(() => undefined);
    assert.deepEqual(manifest, JSON.parse(original));
    assert.deepEqual(Buffer.from(bytes), onnx);
  });

  it('fills in missing metrics and dataset, and keeps those given', async () => {
    const { manifest } = await loadWith((m) => {
      delete m.metrics;
      delete m.dataset;
    });
    assert.deepEqual(manifest.metrics, {});
    assert.deepEqual(manifest.dataset, { sha256: 'unknown', licence: 'unknown' });
  });

  it('refuses each required field missing or of the wrong type, with its own message', async () => {
    for (const key of ['name', 'version', 'createdAt']) {
      await refused((m) => delete m[key], `"${key}" must be a string`, `${key} missing`);
      await refused((m) => (m[key] = 1), `"${key}" must be a string`, `${key} a number`);
    }
    const onnxRequired = '"onnx.file" and "onnx.sha256" are required';
    await refused((m) => delete m.onnx, onnxRequired, 'onnx missing');
    await refused((m) => delete m.onnx.file, onnxRequired, 'onnx.file missing');
    await refused((m) => (m.onnx.sha256 = 5), onnxRequired, 'onnx.sha256 a number');
    const inputName = '"inputs.name" (the ONNX input name) is required';
    await refused((m) => delete m.inputs, inputName, 'inputs missing');
    await refused((m) => (m.inputs.name = ['readings']), inputName, 'inputs.name a list');
    const columns = `"inputs.columns" must list ${INPUT_FIELDS.join(', ')} in that order`;
    await refused((m) => delete m.inputs.columns, columns, 'columns missing');
    await refused((m) => m.inputs.columns.reverse(), columns, 'columns reversed');
    await refused((m) => m.inputs.columns.pop(), columns, 'a column missing');
    await refused((m) => (m.inputs.columns = { ...m.inputs.columns }), columns, 'columns an object');
    const labels = `"outputs.probabilities.labels" must list ${FAILURE_TYPES.join(', ')} in that order`;
    await refused((m) => delete m.outputs, labels, 'outputs missing');
    await refused((m) => delete m.outputs.probabilities, labels, 'probabilities missing');
    await refused((m) => m.outputs.probabilities.labels.reverse(), labels, 'labels reversed');
    await refused((m) => (m.outputs.probabilities.labels = 'NO_FAILURE'), labels, 'labels a string');
    const recon = '"outputs.reconstructionError.name" is required';
    await refused((m) => delete m.outputs.reconstructionError, recon, 'reconstructionError missing');
    await refused((m) => (m.outputs.reconstructionError.name = null), recon, 'reconstructionError.name null');
    const threshold = '"anomaly.threshold" must be a positive number';
    await refused((m) => delete m.anomaly, threshold, 'anomaly missing');
    for (const t of [0, -0.5, '0.1', null, 'Infinity']) await refused((m) => (m.anomaly.threshold = t), threshold, `threshold ${t}`);
    const { manifest } = await loadWith((m) => (m.anomaly.threshold = Number.MIN_VALUE));
    assert.equal(manifest.anomaly.threshold, Number.MIN_VALUE);
  });

  it('refuses each numeric column without a finite training range, and accepts a range of one value', async () => {
    const numeric = ['airTemperature', 'processTemperature', 'rotationalSpeed', 'torque', 'toolWear'];
    numeric.forEach((field, i) => assert.equal(JSON.parse(original).inputs.columns[i].field, field));
    for (let i = 0; i < numeric.length; i++) {
      const message = `"inputs.columns" entry ${numeric[i]} needs finite "min" <= "max" (its training range)`;
      await refused((m) => delete m.inputs.columns[i].min, message, `${numeric[i]} min missing`);
      await refused((m) => delete m.inputs.columns[i].max, message, `${numeric[i]} max missing`);
      await refused((m) => (m.inputs.columns[i].max = '1e9'), message, `${numeric[i]} max a string`);
      await refused(
        (m) => ([m.inputs.columns[i].min, m.inputs.columns[i].max] = [m.inputs.columns[i].max, m.inputs.columns[i].min]),
        message,
        `${numeric[i]} min > max`,
      );
    }
    // min == max: every reference of that field must then equal it.
    const { manifest } = await loadWith((m) => {
      m.inputs.columns[4].min = 100;
      m.inputs.columns[4].max = 100;
      for (const type of ['L', 'M', 'H']) m.references[type].toolWear = 100;
    });
    assert.deepEqual(trainingEnvelope(manifest)[4], { field: 'toolWear', min: 100, max: 100 });
  });

  it('refuses each reference missing or outside its training range, for every product type, and accepts the range ends', async () => {
    const missing =
      /"references" is missing: it must give airTemperature, processTemperature, rotationalSpeed, torque, toolWear for each product type L, M, H/;
    await refused((m) => delete m.references, missing, 'references missing');
    await refused((m) => (m.references = null), missing, 'references null');
    await refused((m) => (m.references = 'L'), missing, 'references a string');
    const columns = JSON.parse(original).inputs.columns as Array<{ field: string; min: number; max: number }>;
    for (const type of ['L', 'M', 'H']) {
      await refused(
        (m) => delete m.references[type],
        `"references.${type}.airTemperature" must be a number within its training range [295.3, 304.5], got undefined`,
        `${type} missing`,
      );
      for (const { field, min, max } of columns.slice(0, 5)) {
        const message = (got: unknown) =>
          `"references.${type}.${field}" must be a number within its training range [${min}, ${max}], got ${JSON.stringify(got)}`;
        await refused((m) => (m.references[type][field] = min - 0.5), message(min - 0.5), `${type}.${field} below`);
        await refused((m) => (m.references[type][field] = max + 0.5), message(max + 0.5), `${type}.${field} above`);
        await refused((m) => (m.references[type][field] = String(min)), message(String(min)), `${type}.${field} a string`);
        await refused((m) => delete m.references[type][field], message(undefined), `${type}.${field} missing`);
        for (const end of [min, max]) {
          const { manifest } = await loadWith((m) => (m.references[type][field] = end));
          assert.equal((manifest.references as any)[type][field], end);
        }
      }
    }
  });

  it('refuses a malformed drift section, and loads a manifest without one', async () => {
    await refused(
      (m) => (m.drift.psiEpsilon = 1),
      /: "drift" "psiEpsilon" must be .*; recompute it with `\/usr\/bin\/python3 -m training.drift`$/,
      'drift epsilon',
    );
    await refused((m) => (m.drift = 'none'), /"drift" must be an object; recompute it/, 'drift a string');
    const { manifest } = await loadWith((m) => delete m.drift);
    assert.equal(manifest.drift, undefined);
  });

  it('refuses a manifest it cannot read, and an ONNX file that is missing or not the one it names', async () => {
    rmSync(manifestPath);
    await assert.rejects(loadModelArtifacts(modelDir), (err: Error) => {
      assert.ok(err instanceof ModelLoadError);
      assert.equal(err.message, `${manifestPath}: cannot read model manifest (not found); run \`npm run train\` or set MODEL_DIR`);
      return true;
    });
    writeFileSync(manifestPath, '{"name": ');
    await assert.rejects(loadModelArtifacts(modelDir), (err: Error) => {
      assert.ok(err instanceof ModelLoadError);
      assert.ok(err.cause instanceof SyntaxError);
      assert.equal(
        err.message,
        `${manifestPath}: cannot read model manifest (${(err.cause as Error).message}); run \`npm run train\` or set MODEL_DIR`,
      );
      return true;
    });
    await assert.rejects(
      loadWith((m) => (m.onnx.file = 'absent.onnx')),
      (err: Error) =>
        err instanceof ModelLoadError &&
        err.name === 'ModelLoadError' &&
        (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' &&
        err.message.startsWith(`${path.join(modelDir, 'absent.onnx')}: cannot read ONNX model (ENOENT`),
    );
    // Any one byte changed: the hash no longer matches.
    const changed = Buffer.from(onnx);
    changed[Math.floor(changed.length / 2)] ^= 1;
    writeFileSync(path.join(modelDir, 'other.onnx'), changed);
    const digest = createHash('sha256').update(changed).digest('hex');
    await assert.rejects(
      loadWith((m) => (m.onnx.file = 'other.onnx')),
      (err: Error) => {
        assert.ok(err instanceof ModelLoadError);
        assert.equal(
          err.message,
          `${path.join(modelDir, 'other.onnx')}: SHA-256 ${digest} does not match model.json (${JSON.parse(original).onnx.sha256}): the file is corrupt or belongs to another model`,
        );
        return true;
      },
    );
  });

  it('trainingEnvelope: the range of each numeric input, in model input order', async () => {
    const { manifest } = await loadWith(() => undefined);
    const columns = JSON.parse(original).inputs.columns as Array<{ field: string; min: number; max: number }>;
    assert.deepEqual(
      trainingEnvelope(manifest),
      columns.slice(0, 5).map(({ field, min, max }) => ({ field, min, max })),
    );
  });
});
