// Output decoding, input packing and the inference service's own API (create, predict, predictMany,
// runModel, close) against models/golden.json: the packing and decoding the server uses, not only
// onnxruntime called directly (test/model.parity.test.ts does that).
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GraphQLError } from 'graphql';
import { InferenceService } from '../src/inference/inference.service';
import {
  decodePredictions,
  INPUT_FIELDS,
  INPUT_WIDTH,
  packReadings,
  PRODUCT_TYPE_CODE,
  type DecodeOptions,
  type Reading,
} from '../src/inference/model-io';
import { ModelLoadError } from '../src/inference/model-manifest';
import { FailureType } from '../src/schema/failure-type.enum';

const MODEL_DIR = path.resolve(process.env.MODEL_DIR ?? 'models');

interface GoldenCase {
  name: string;
  input: number[];
  probabilities: number[];
  reconstructionError: number;
}
interface Golden {
  tolerance: { absolute: number; relative: number };
  outputLabels: string[];
  cases: GoldenCase[];
}
const golden: Golden = JSON.parse(readFileSync(path.join(MODEL_DIR, 'golden.json'), 'utf8'));
const manifest = JSON.parse(readFileSync(path.join(MODEL_DIR, 'model.json'), 'utf8'));
const THRESHOLD: number = manifest.anomaly.threshold;
const TYPE_BY_CODE = ['L', 'M', 'H'] as const;

/** The golden tolerance rule: |actual - expected| <= absolute + relative * |expected|. */
function close(actual: number, expected: number, what: string): void {
  const { absolute, relative } = golden.tolerance;
  const limit = absolute + relative * Math.abs(expected);
  assert.ok(Math.abs(actual - expected) <= limit, `${what}: got ${actual}, expected ${expected} (limit ${limit})`);
}

function readingOf(c: GoldenCase): Reading {
  const [airTemperature, processTemperature, rotationalSpeed, torque, toolWear, type] = c.input;
  return { airTemperature, processTemperature, rotationalSpeed, torque, toolWear, productType: TYPE_BY_CODE[type] };
}

const LABELS: DecodeOptions<string>['labels'] = [
  { enum: 'NO_FAILURE', label: 'No Failure' },
  { enum: 'HEAT', label: 'Heat' },
  { enum: 'POWER', label: 'Power' },
];
const OPTS: DecodeOptions<string> = { labels: LABELS, anomalyThreshold: 0.5, device: 'cpu', modelVersion: '9.9.9+abc' };

function decodeOne(probabilities: number[], reconstructionError: number, opts = OPTS) {
  const [p] = decodePredictions(
    { probabilities: Float32Array.from(probabilities), reconstructionError: Float32Array.from([reconstructionError]) },
    1,
    opts,
  );
  return p;
}

describe('model-io: packReadings', () => {
  it('lays out the six columns in the model order, row-major, product type coded L=0 M=1 H=2', () => {
    assert.deepEqual([...INPUT_FIELDS], ['airTemperature', 'processTemperature', 'rotationalSpeed', 'torque', 'toolWear', 'productType']);
    assert.equal(INPUT_WIDTH, 6);
    assert.deepEqual({ ...PRODUCT_TYPE_CODE }, { L: 0, M: 1, H: 2 });
    const rows: Reading[] = [
      { airTemperature: 300.5, processTemperature: 310.25, rotationalSpeed: 1500, torque: 40.5, toolWear: 7, productType: 'L' },
      { airTemperature: 1, processTemperature: 2, rotationalSpeed: 3, torque: 4, toolWear: 5, productType: 'M' },
      { airTemperature: 6, processTemperature: 7, rotationalSpeed: 8, torque: 9, toolWear: 10, productType: 'H' },
    ];
    const packed = packReadings(rows);
    assert.ok(packed instanceof Float32Array);
    assert.deepEqual([...packed], [300.5, 310.25, 1500, 40.5, 7, 0, 1, 2, 3, 4, 5, 1, 6, 7, 8, 9, 10, 2]);
    assert.equal(packReadings([]).length, 0);
  });
});

describe('model-io: decodePredictions', () => {
  it('reports the most probable class with its label and probability, and every class in column order', () => {
    const p = decodeOne([0.25, 0.125, 0.625], 0.25);
    assert.equal(p.predictedFailureType, 'POWER');
    assert.equal(p.label, 'Power');
    assert.equal(p.probability, 0.625);
    assert.deepEqual(p.probabilities, [
      { failureType: 'NO_FAILURE', label: 'No Failure', probability: 0.25 },
      { failureType: 'HEAT', label: 'Heat', probability: 0.125 },
      { failureType: 'POWER', label: 'Power', probability: 0.625 },
    ]);
    assert.equal(p.reconstructionError, 0.25);
    assert.equal(p.anomalyThreshold, 0.5);
    assert.equal(p.device, 'cpu');
    assert.equal(p.modelVersion, '9.9.9+abc');
  });

  it('failureProbability is 1 - P(no failure), also when the top class is a failure', () => {
    // 1 - P(predicted class) would give 0.375 here; 1 - P(NO_FAILURE) is 0.75.
    const p = decodeOne([0.25, 0.125, 0.625], 0.25);
    assert.equal(p.predictedFailureType, 'POWER');
    assert.equal(p.failureProbability, 0.75);
    const normal = decodeOne([0.875, 0.125, 0], 0.25);
    assert.equal(normal.predictedFailureType, 'NO_FAILURE');
    assert.equal(normal.failureProbability, 0.125);
  });

  it('failureProbability never goes below 0 when float rounding puts P(no failure) above 1', () => {
    const p = decodeOne([1.0000001, 0, 0], 0.25);
    assert.ok(p.probabilities[0].probability > 1, 'the float32 value really is above 1');
    assert.equal(p.failureProbability, 0);
  });

  it('a tie goes to the first column (NO_FAILURE before any failure)', () => {
    const p = decodeOne([0.5, 0.5, 0], 0.25);
    assert.equal(p.predictedFailureType, 'NO_FAILURE');
    const q = decodeOne([0, 0.5, 0.5], 0.25);
    assert.equal(q.predictedFailureType, 'HEAT');
    const r = decodeOne([0.125, 0.125, 0.75], 0.25);
    assert.equal(r.predictedFailureType, 'POWER', 'a later strictly larger column still wins');
  });

  it('isAnomaly: exactly at the threshold is normal, just above is an anomaly, NaN is an anomaly', () => {
    const t = 0.5;
    assert.equal(decodeOne([1, 0, 0], t).isAnomaly, false, 'at the threshold');
    assert.equal(decodeOne([1, 0, 0], 0.5000001).isAnomaly, true, 'one float32 step above');
    assert.equal(decodeOne([1, 0, 0], 0.4999999).isAnomaly, false, 'just below');
    assert.equal(decodeOne([1, 0, 0], 0).isAnomaly, false);
    assert.equal(decodeOne([1, 0, 0], NaN).isAnomaly, true, 'NaN must not read as normal');
    assert.equal(decodeOne([1, 0, 0], Infinity).isAnomaly, true);
  });

  it('decodes each row of a batch from its own slice of the outputs', () => {
    const preds = decodePredictions(
      {
        probabilities: Float32Array.from([0.75, 0.25, 0, 0, 0.25, 0.75, 0.125, 0.625, 0.25]),
        reconstructionError: Float32Array.from([0.125, 0.75, 0.5]),
      },
      3,
      OPTS,
    );
    assert.equal(preds.length, 3);
    assert.deepEqual(
      preds.map((p) => [p.predictedFailureType, p.probability, p.failureProbability, p.reconstructionError, p.isAnomaly]),
      [
        ['NO_FAILURE', 0.75, 0.25, 0.125, false],
        ['POWER', 0.75, 1, 0.75, true],
        ['HEAT', 0.625, 0.875, 0.5, false],
      ],
    );
    assert.deepEqual(
      preds[2].probabilities.map((x) => x.probability),
      [0.125, 0.625, 0.25],
    );
    assert.deepEqual(decodePredictions({ probabilities: new Float32Array(), reconstructionError: new Float32Array() }, 0, OPTS), []);
  });
});

/** A copy of the model directory with model.json edited (and model.onnx replaced when given). */
function modelDirWith(edit: (m: any) => void, onnx?: Buffer): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pm-model-'));
  const m = structuredClone(manifest);
  if (onnx) {
    writeFileSync(path.join(dir, m.onnx.file), onnx);
    m.onnx.sha256 = createHash('sha256').update(onnx).digest('hex');
  } else {
    copyFileSync(path.join(MODEL_DIR, m.onnx.file), path.join(dir, m.onnx.file));
  }
  edit(m);
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(m));
  return dir;
}

describe('InferenceService', () => {
  let service: InferenceService;
  before(async () => {
    service = await InferenceService.create({ modelDir: MODEL_DIR, device: 'cpu' });
  });
  after(() => service.close());

  it('opens on the CPU provider and exposes the manifest', () => {
    assert.equal(service.device, 'cpu');
    assert.equal(service.manifest.version, manifest.version);
    assert.ok(InferenceService.availableProviders().includes('cpu'));
  });

  it('golden cases through predictMany (one batch): encode, run and decode match golden.json', async () => {
    const preds = await service.predictMany(golden.cases.map(readingOf));
    assert.equal(preds.length, golden.cases.length);
    checkGolden(preds);
  });

  it('golden cases through concurrent predict calls (coalesced by the batcher) match golden.json', async () => {
    const before = service.stats();
    const preds = await Promise.all(golden.cases.map((c) => service.predict(readingOf(c))));
    checkGolden(preds);
    const after = service.stats();
    assert.equal(after.rows - before.rows, golden.cases.length);
    assert.ok(after.runs - before.runs < golden.cases.length, 'the singles shared runs');
    assert.equal(after.queuedRows, 0);
  });

  function checkGolden(preds: Awaited<ReturnType<InferenceService['predictMany']>>): void {
    let failures = 0;
    let anomalies = 0;
    golden.cases.forEach((c, i) => {
      const p = preds[i];
      const where = `${c.name} (#${i})`;
      assert.deepEqual(
        p.probabilities.map((x) => x.failureType),
        golden.outputLabels,
        where,
      );
      assert.deepEqual(
        p.probabilities.map((x) => x.label),
        manifest.outputs.probabilities.labels.map((l: { label: string }) => l.label),
      );
      c.probabilities.forEach((expected, k) => close(p.probabilities[k].probability, expected, `${where} probability[${k}]`));
      close(p.failureProbability, 1 - c.probabilities[0], `${where} failureProbability`);
      close(p.reconstructionError, c.reconstructionError, `${where} reconstructionError`);
      const sorted = [...c.probabilities].sort((a, b) => b - a);
      if (sorted[0] - sorted[1] > 1e-3) {
        const top = c.probabilities.indexOf(sorted[0]);
        assert.equal(p.predictedFailureType, golden.outputLabels[top], where);
        assert.equal(p.label, manifest.outputs.probabilities.labels[top].label, where);
        close(p.probability, sorted[0], `${where} probability`);
        if (top !== 0) failures++;
      }
      if (Math.abs(c.reconstructionError - THRESHOLD) > 1e-4) {
        assert.equal(p.isAnomaly, c.reconstructionError > THRESHOLD, `${where} isAnomaly`);
        if (p.isAnomaly) anomalies++;
      }
      assert.equal(p.anomalyThreshold, THRESHOLD);
      assert.equal(p.device, 'cpu');
      assert.equal(p.modelVersion, manifest.version);
    });
    // The checks above must have bitten on both sides.
    assert.ok(failures >= 10, `only ${failures} golden cases predict a failure`);
    assert.ok(anomalies >= 10 && anomalies < golden.cases.length - 10, `${anomalies} anomalies`);
  }

  it('runModel returns one probability row and one error per input row', async () => {
    const c = golden.cases[0];
    const out = await service.runModel(Float32Array.from([...c.input, ...c.input]), 2);
    assert.equal(out.probabilities.length, 12);
    assert.equal(out.reconstructionError.length, 2);
    close(out.reconstructionError[1], c.reconstructionError, 'second row');
  });

  it('refuses a model run that returns the wrong number of rows', async () => {
    const session = (service as any).session;
    const run = session.run;
    const realRun = run.bind(session);
    try {
      session.run = async (feeds: any) => {
        const out = await realRun(feeds);
        return { ...out, reconstruction_error: { data: out.reconstruction_error.data.subarray(1) } };
      };
      await assert.rejects(service.runModel(new Float32Array(12).fill(1), 2), /returned 12 probabilities and 1 errors for 2 rows/);
      session.run = async (feeds: any) => {
        const out = await realRun(feeds);
        return { ...out, probabilities: { data: out.probabilities.data.subarray(6) } };
      };
      await assert.rejects(service.runModel(new Float32Array(12).fill(1), 2), /returned 6 probabilities and 2 errors for 2 rows/);
    } finally {
      session.run = run;
    }
  });
});

describe('InferenceService: failures', () => {
  it('a failed run reaches onRunError and callers see only INFERENCE_FAILED', async () => {
    const seen: unknown[] = [];
    const s = await InferenceService.create({ modelDir: MODEL_DIR, device: 'cpu', onRunError: (e) => seen.push(e) });
    const quiet = await InferenceService.create({ modelDir: MODEL_DIR, device: 'cpu' });
    try {
      for (const svc of [s, quiet]) {
        svc.runModel = async () => {
          throw new Error('onnxruntime exploded: secret detail');
        };
        await assert.rejects(svc.predict(readingOf(golden.cases[0])), (err: GraphQLError) => {
          assert.equal(err.extensions.code, 'INFERENCE_FAILED');
          assert.doesNotMatch(err.message, /secret/);
          return true;
        });
      }
      assert.equal(seen.length, 1);
      assert.match(String(seen[0]), /secret detail/);
      assert.equal(s.stats().failedRuns, 1);
    } finally {
      await s.close();
      await quiet.close();
    }
  });

  it('close releases the session once, however often it is called', async () => {
    const s = await InferenceService.create({ modelDir: MODEL_DIR, device: 'auto' });
    assert.equal(s.device, 'cpu', 'auto falls back to the CPU when no CUDA provider is installed');
    const session = (s as any).session;
    const release = session.release.bind(session);
    let released = 0;
    session.release = async () => {
      released++;
      return release();
    };
    await s.close();
    await s.close();
    assert.equal(released, 1);
  });

  it('INFERENCE_DEVICE=cuda without a CUDA provider stops start-up with a ModelLoadError', async () => {
    await assert.rejects(InferenceService.create({ modelDir: MODEL_DIR, device: 'cuda' }), (err: Error) => {
      assert.ok(err instanceof ModelLoadError, String(err));
      assert.match(err.message, /^INFERENCE_DEVICE=cuda but the CUDA execution provider cannot start \(.+\); install onnxruntime-node/);
      return true;
    });
  });

  for (const [what, edit, pattern] of [
    [
      'input',
      (m: any) => (m.inputs.name = 'sensor_rows'),
      /model\.json expects input sensor_rows and outputs probabilities, reconstruction_error/,
    ],
    [
      'probabilities output',
      (m: any) => (m.outputs.probabilities.name = 'probs'),
      /has inputs \[readings\] and outputs \[.*\]; model\.json expects input readings and outputs probs, reconstruction_error$/,
    ],
    [
      'reconstruction error output',
      (m: any) => (m.outputs.reconstructionError.name = 'err'),
      /expects input readings and outputs probabilities, err$/,
    ],
  ] as const) {
    it(`refuses a model.json whose ${what} name the graph does not have`, async () => {
      await assert.rejects(InferenceService.create({ modelDir: modelDirWith(edit), device: 'cpu' }), (err: Error) => {
        assert.ok(err instanceof ModelLoadError, String(err));
        assert.match(err.message, pattern);
        return true;
      });
    });
  }

  it('refuses an ONNX file onnxruntime cannot load (hash matching, content not a model)', async () => {
    const dir = modelDirWith(() => {}, Buffer.from('not an onnx graph'));
    await assert.rejects(InferenceService.create({ modelDir: dir, device: 'cpu' }), (err: Error) => {
      assert.ok(err instanceof ModelLoadError, String(err));
      assert.match(err.message, /^model\.onnx cannot be loaded by onnxruntime \(.+\)$/);
      return true;
    });
  });

  it('FailureType order is the model column order', () => {
    assert.deepEqual(Object.values(FailureType), golden.outputLabels);
  });
});
