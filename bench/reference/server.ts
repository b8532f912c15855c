/**
 * The reference: what a user could run instead of the API. A bare node:http handler that parses the
 * same JSON request, runs the same ONNX model through onnxruntime-node (same session options, one run
 * per request) and writes the same JSON response. No GraphQL, no validation, no logging, no limits:
 * it is the practical ceiling for JSON over HTTP on this machine, and every benchmark figure is a
 * ratio to it. Usage: MODEL_DIR=models PORT=0 node dist/bench/reference/server.js (prints the port).
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

const CODE: Record<string, number> = { L: 0, M: 1, H: 2 };
const WIDTH = 6;

async function main(): Promise<void> {
  const modelDir = path.resolve(process.env.MODEL_DIR ?? 'models');
  const manifest = JSON.parse(readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const session = await ort.InferenceSession.create(readFileSync(path.join(modelDir, manifest.onnx.file)), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  });
  const inputName: string = manifest.inputs.name ?? 'readings';
  const probName: string = manifest.outputs.probabilities.name;
  const errName: string = manifest.outputs.reconstructionError.name;
  const labels: Array<{ enum: string; label: string }> = manifest.outputs.probabilities.labels;
  const threshold: number = manifest.anomaly.threshold;
  const version: string = manifest.version;
  const classes = labels.length;

  const infer = async (rows: any[]) => {
    const input = new Float32Array(rows.length * WIDTH);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const o = i * WIDTH;
      input[o] = r.airTemperature;
      input[o + 1] = r.processTemperature;
      input[o + 2] = r.rotationalSpeed;
      input[o + 3] = r.torque;
      input[o + 4] = r.toolWear;
      input[o + 5] = CODE[r.productType];
    }
    const out = await session.run({ [inputName]: new ort.Tensor('float32', input, [rows.length, WIDTH]) });
    const probs = out[probName].data as Float32Array;
    const errs = out[errName].data as Float32Array;
    const predictions = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const base = i * classes;
      let best = 0;
      const probabilities = new Array(classes);
      for (let c = 0; c < classes; c++) {
        if (probs[base + c] > probs[base + best]) best = c;
        probabilities[c] = { failureType: labels[c].enum, label: labels[c].label, probability: probs[base + c] };
      }
      predictions[i] = {
        predictedFailureType: labels[best].enum,
        label: labels[best].label,
        probability: probs[base + best],
        failureProbability: Math.max(0, 1 - probs[base]),
        probabilities,
        reconstructionError: errs[i],
        anomalyThreshold: threshold,
        isAnomaly: !(errs[i] <= threshold),
        device: 'cpu',
        modelVersion: version,
      };
    }
    return predictions;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      let payload: string;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const vars = body.variables ?? {};
        if (Array.isArray(vars.inputs)) payload = JSON.stringify({ data: { predictBatch: await infer(vars.inputs) } });
        else payload = JSON.stringify({ data: { predict: (await infer([vars.input]))[0] } });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
      } catch (err) {
        payload = JSON.stringify({ errors: [{ message: String(err) }] });
        res.writeHead(400, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
      }
      res.end(payload);
    });
  });
  server.keepAliveTimeout = 5_000;
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const address = server.address() as { port: number };
    process.stdout.write(`LISTENING ${address.port}\n`);
  });
  const stop = () => server.close(() => void session.release().then(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
