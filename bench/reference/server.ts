/**
 * The reference: what a user could run instead of the API. A bare node:http handler that parses the
 * same JSON request, runs the same ONNX model through onnxruntime-node (same session options, one run
 * per request) and writes the same JSON response. No GraphQL, no validation, no logging, no limits:
 * it is the practical ceiling for JSON over HTTP on this machine, and every benchmark figure is a
 * ratio to it. Usage: MODEL_DIR=models PORT=0 node dist/bench/reference/server.js (prints the port).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodePredictions, INPUT_WIDTH, packReadings, type Reading } from '../../src/inference/model-io';

async function main(): Promise<void> {
  const modelDir = path.resolve(process.env.MODEL_DIR ?? 'models');
  const manifest = JSON.parse(readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const session = await ort.InferenceSession.create(readFileSync(path.join(modelDir, manifest.onnx.file)), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  });
  const inputName: string = manifest.inputs.name;
  const probName: string = manifest.outputs.probabilities.name;
  const errName: string = manifest.outputs.reconstructionError.name;
  const labels: Array<{ enum: string; label: string }> = manifest.outputs.probabilities.labels;
  const threshold: number = manifest.anomaly.threshold;
  const version: string = manifest.version;

  // Encoding and decoding are the API's own (src/inference/model-io.ts): both do exactly the same work.
  const infer = async (rows: Reading[]) => {
    const out = await session.run({ [inputName]: new ort.Tensor('float32', packReadings(rows), [rows.length, INPUT_WIDTH]) });
    const outputs = { probabilities: out[probName].data as Float32Array, reconstructionError: out[errName].data as Float32Array };
    return decodePredictions(outputs, rows.length, { labels, anomalyThreshold: threshold, device: 'cpu', modelVersion: version });
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
