/**
 * What the benchmark sends: the same GraphQL documents and variables go to the API and to the bare
 * reference server, so both parse the same JSON and write the same JSON.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Reading } from '../../src/inference/model-io';

export type { Reading };

export const PREDICTION_FIELDS =
  'predictedFailureType label probability failureProbability probabilities { failureType label probability } reconstructionError anomalyThreshold isAnomaly device modelVersion';

export const PREDICT_QUERY = `mutation Predict($input: SensorReadingInput!) { predict(input: $input) { ${PREDICTION_FIELDS} } }`;
export const PREDICT_BATCH_QUERY = `mutation PredictBatch($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { ${PREDICTION_FIELDS} } }`;
export const BATCHING_QUERY = 'query Batching { modelInfo { batching { runs rows meanRowsPerRun } } }';

/** Deterministic, physically plausible readings (inside the AI4I 2020 ranges), some near failure modes. */
export function readings(count: number, seed = 1): Reading[] {
  let s = seed >>> 0;
  const rnd = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const types = ['L', 'L', 'L', 'M', 'M', 'H'] as const;
  const out: Reading[] = [];
  for (let i = 0; i < count; i++) {
    const air = 295.3 + rnd() * 9.2;
    out.push({
      airTemperature: Math.round(air * 10) / 10,
      processTemperature: Math.round((air + 8 + rnd() * 3) * 10) / 10,
      rotationalSpeed: Math.round(1168 + rnd() * 1700),
      torque: Math.round((3.8 + rnd() * 72) * 10) / 10,
      toolWear: Math.round(rnd() * 253),
      productType: types[Math.floor(rnd() * types.length)],
    });
  }
  return out;
}

export function predictBody(seed = 1): string {
  return JSON.stringify({ operationName: 'Predict', query: PREDICT_QUERY, variables: { input: readings(1, seed)[0] } });
}

/** The bench's own trusted-documents manifest (TRUSTED_DOCUMENTS_FILE): its two documents, by sha256 id. */
export function benchManifest(): Record<string, string> {
  return Object.fromEntries([PREDICT_QUERY, PREDICT_BATCH_QUERY].map((q) => [documentId(q), q]));
}

export function documentId(query: string): string {
  return `sha256:${createHash('sha256').update(query).digest('hex')}`;
}

/** predictBody's request naming its document by id (GraphQL-over-HTTP persisted documents) instead of text. */
export function predictTrustedBody(seed = 1): string {
  return JSON.stringify({ operationName: 'Predict', documentId: documentId(PREDICT_QUERY), variables: { input: readings(1, seed)[0] } });
}

export function predictBatchBody(rows: number, seed = 1): string {
  return JSON.stringify({ operationName: 'PredictBatch', query: PREDICT_BATCH_QUERY, variables: { inputs: readings(rows, seed) } });
}

export interface PostResult {
  status: number;
  body: any;
  text: string;
}

export function post(port: number, path: string, body: string, headers: Record<string, string> = {}): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
