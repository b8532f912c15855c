import { readFile } from 'node:fs/promises';
import { INPUT_WIDTH, type ModelOutputs } from './model-io';
import { ModelLoadError } from './model-manifest';

/** models/golden.json: inputs and the outputs training computed for them, with the tolerance allowed. */
interface Golden {
  tolerance: { absolute: number; relative: number };
  cases: Array<{ name: string; input: number[]; probabilities: number[]; reconstructionError: number }>;
}

/**
 * Runs golden.json's inputs through a freshly loaded session and refuses it unless every output is
 * within `absolute + relative * |expected|` of what training computed. The manifest and hash checks
 * prove the files belong together; this proves the session computes what the model was trained to.
 */
export async function checkGolden(
  service: { runModel(input: Float32Array, count: number): Promise<ModelOutputs> },
  file: string,
): Promise<void> {
  let golden: Golden;
  try {
    golden = JSON.parse(await readFile(file, 'utf8')) as Golden;
  } catch (err) {
    throw new ModelLoadError(`${file}: cannot read golden outputs (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      cause: err,
    });
  }
  const cases = golden.cases;
  const { absolute, relative } = golden.tolerance ?? {};
  if (!Array.isArray(cases) || cases.length === 0 || !Number.isFinite(absolute) || !Number.isFinite(relative)) {
    throw new ModelLoadError(`${file}: needs "cases" and numeric "tolerance.absolute" and "tolerance.relative"`);
  }
  const input = new Float32Array(cases.length * INPUT_WIDTH);
  cases.forEach((c, i) => input.set(c.input, i * INPUT_WIDTH));
  const out = await service.runModel(input, cases.length);
  const classes = out.probabilities.length / cases.length;
  const within = (got: number, want: number) => Math.abs(got - want) <= absolute + relative * Math.abs(want);
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i];
    for (let k = 0; k < classes; k++) {
      const got = out.probabilities[i * classes + k];
      if (!within(got, c.probabilities[k])) {
        throw new ModelLoadError(`golden case "${c.name}": probability ${k} is ${got}, expected ${c.probabilities[k]} (outside tolerance)`);
      }
    }
    const err = out.reconstructionError[i];
    if (!within(err, c.reconstructionError)) {
      throw new ModelLoadError(
        `golden case "${c.name}": reconstruction error is ${err}, expected ${c.reconstructionError} (outside tolerance)`,
      );
    }
  }
}
