// How the inference service starts: the device choice (INFERENCE_DEVICE=auto on a host without the
// CUDA provider libraries must go straight to the CPU: a CUDA attempt would work too, it fails and falls
// back, but makes onnxruntime print a load error to stderr on every start; a child process shows that
// stderr), and what start-up errors say and carry.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { InferenceService } from '../src/inference/inference.service';
import { ModelLoadError } from '../src/inference/model-manifest';

const MODEL_DIR = path.resolve(process.env.MODEL_DIR ?? 'models');

function startIn(device: string) {
  const service = path.join(__dirname, '..', 'src', 'inference', 'inference.service.js');
  const script = `
    const { InferenceService } = require(${JSON.stringify(service)});
    InferenceService.create({ modelDir: ${JSON.stringify(MODEL_DIR)}, device: ${JSON.stringify(device)} })
      .then(async (s) => { process.stdout.write(s.device); await s.close(); })
      .catch((e) => { process.stdout.write('error: ' + e.message); });`;
  return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: process.env, timeout: 60_000 });
}

describe('INFERENCE_DEVICE=auto without CUDA libraries', () => {
  it('starts on the CPU without trying CUDA: nothing on stderr', async () => {
    // In this process too, so that mutation testing counts this file as covering the device choice.
    const here = await InferenceService.create({ modelDir: MODEL_DIR, device: 'auto' });
    assert.equal(here.device, 'cpu');
    await here.close();
    const auto = startIn('auto');
    assert.equal(auto.stdout, 'cpu', auto.stderr);
    assert.equal(auto.stderr, '', 'onnxruntime printed an error: a CUDA provider was tried');
  });

  it('an explicit cuda request does try CUDA (and fails here), so the stderr check can see an attempt', () => {
    const cuda = startIn('cuda');
    assert.match(cuda.stdout, /^error: INFERENCE_DEVICE=cuda but the CUDA execution provider cannot start/);
    assert.match(cuda.stderr, /onnxruntime/);
  });
});

/** A copy of the model directory with model.json edited (and model.onnx replaced when given). */
function modelDirWith(edit: (m: any) => void, onnx?: Buffer): string {
  const manifest = JSON.parse(readFileSync(path.join(MODEL_DIR, 'model.json'), 'utf8'));
  const dir = mkdtempSync(path.join(tmpdir(), 'pm-model-'));
  if (onnx) {
    writeFileSync(path.join(dir, manifest.onnx.file), onnx);
    manifest.onnx.sha256 = createHash('sha256').update(onnx).digest('hex');
  } else {
    copyFileSync(path.join(MODEL_DIR, manifest.onnx.file), path.join(dir, manifest.onnx.file));
  }
  edit(manifest);
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(manifest));
  return dir;
}

async function loadError(options: Parameters<typeof InferenceService.create>[0]): Promise<ModelLoadError> {
  try {
    const s = await InferenceService.create(options);
    await s.close();
  } catch (err) {
    assert.ok(err instanceof ModelLoadError, String(err));
    return err;
  }
  assert.fail('InferenceService.create should have failed');
}

describe('start-up errors name what is wrong and keep the cause', () => {
  it('a graph without the outputs model.json names lists both sides in full', async () => {
    const err = await loadError({ modelDir: modelDirWith((m) => (m.outputs.reconstructionError.name = 'err')), device: 'cpu' });
    assert.equal(
      err.message,
      'model.onnx has inputs [readings] and outputs [probabilities, reconstruction_error]; model.json expects input readings and outputs probabilities, err',
    );
  });

  it('INFERENCE_DEVICE=cuda: the message quotes the CUDA provider failure, which is the cause', async () => {
    const err = await loadError({ modelDir: MODEL_DIR, device: 'cuda' });
    assert.match(err.message, /^INFERENCE_DEVICE=cuda but the CUDA execution provider cannot start \([^)]*Cuda[^)]*\)/);
    assert.ok(err.cause instanceof Error, 'the onnxruntime error is kept as the cause');
    assert.ok(err.message.includes((err.cause as Error).message));
  });

  it("an ONNX file onnxruntime cannot parse: the cause is onnxruntime's error", async () => {
    const err = await loadError({ modelDir: modelDirWith(() => {}, Buffer.from('not an onnx graph')), device: 'cpu' });
    assert.ok(err.cause instanceof Error);
    assert.equal(err.message, `model.onnx cannot be loaded by onnxruntime (${(err.cause as Error).message})`);
  });
});
