import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { graphql, type ExecutionResult } from 'graphql';
import type { App } from '../src/app';
import { loadConfig, type Config } from '../src/config';
import type { AppContext } from '../src/context';
import type { NumericField } from '../src/inference/explanation';
import type { InferenceService } from '../src/inference/inference.service';
import { ModelHost } from '../src/inference/model-host';
import type { Reading } from '../src/inference/model-io';
import { createApp, loadModel } from '../src/server';
import { LogCapture, NORMAL_READING, startServer, type TestServer } from './helpers/server';

const EXPLANATION = 'explanation { temperatureDifference power strain drivers { field value reference effect } }';
const OUT_OF_RANGE = 'outOfRange { field value trainingMin trainingMax }';
const FIELD_OF: Record<string, NumericField> = {
  AIR_TEMPERATURE: 'airTemperature',
  PROCESS_TEMPERATURE: 'processTemperature',
  ROTATIONAL_SPEED: 'rotationalSpeed',
  TORQUE: 'torque',
  TOOL_WEAR: 'toolWear',
};
const RAD_PER_S_PER_RPM = (2 * Math.PI) / 60;

/** A low-power reading: 18 Nm at 1,500 rpm is 2.8 kW, below the 3.5 kW the power rule needs. */
const LOW_POWER = { ...NORMAL_READING, torque: 18 };

interface Driver {
  field: string;
  value: number;
  reference: number;
  effect: number;
}

/**
 * Readings built to sit just past one AI4I 2020 failure rule, everything else typical. Seeded, so every
 * run checks the same rows.
 */
function ruleReadings(rule: 'heat' | 'lowPower' | 'highPower' | 'overstrain', n: number, seed: number): Reading[] {
  let s = seed >>> 0;
  const rnd = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const u = (a: number, b: number) => a + (b - a) * rnd();
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const types = ['L', 'L', 'L', 'M', 'M', 'H'] as const;
  const overstrainLimit = { L: 11_000, M: 12_000, H: 13_000 };
  return Array.from({ length: n }, () => {
    const productType = types[Math.floor(rnd() * types.length)];
    const air = u(297, 303);
    let r: Omit<Reading, 'productType'>;
    switch (rule) {
      case 'heat': // process - air < 8.6 K and speed < 1,380 rpm
        r = {
          airTemperature: air,
          processTemperature: air + u(7.6, 8.5),
          rotationalSpeed: u(1250, 1370),
          torque: u(35, 55),
          toolWear: u(0, 150),
        };
        break;
      case 'lowPower': {
        // power < 3,500 W
        const speed = u(1400, 1900);
        r = {
          airTemperature: air,
          processTemperature: air + u(9.5, 11),
          rotationalSpeed: speed,
          torque: u(2800, 3450) / (speed * RAD_PER_S_PER_RPM),
          toolWear: u(0, 150),
        };
        break;
      }
      case 'highPower': {
        // power > 9,000 W
        const speed = u(1250, 1450);
        r = {
          airTemperature: air,
          processTemperature: air + u(9.5, 11),
          rotationalSpeed: speed,
          torque: u(9100, 10000) / (speed * RAD_PER_S_PER_RPM),
          toolWear: u(0, 120),
        };
        break;
      }
      case 'overstrain': {
        // wear x torque > 11,000 / 12,000 / 13,000 min·Nm for L / M / H
        const wear = u(170, 230);
        const torque = (overstrainLimit[productType] + u(200, 1500)) / wear;
        r = {
          airTemperature: air,
          processTemperature: air + u(9.5, 11),
          rotationalSpeed: u(5000, 8000) / (torque * RAD_PER_S_PER_RPM),
          torque,
          toolWear: wear,
        };
        break;
      }
    }
    return {
      airTemperature: r1(r.airTemperature),
      processTemperature: r1(r.processTemperature),
      rotationalSpeed: r1(r.rotationalSpeed),
      torque: r1(r.torque),
      toolWear: r1(r.toolWear),
      productType,
    };
  });
}

/** GraphQL in-process against the app's schema and the real model (graphql-js executor). */
describe('explanation and outOfRange in-process', () => {
  let config: Config;
  let models: ModelHost;
  let app: App;
  let service: InferenceService;
  const logs = new LogCapture('silent');

  const run = (source: string, variableValues?: Record<string, unknown>): Promise<ExecutionResult<any>> => {
    const contextValue: AppContext = {
      config,
      models,
      log: logs.logger,
      requestId: 'test',
      clientId: 'ip:in-process',
      apiKeyHash: undefined,
      limiter: undefined,
      budgets: [],
      trace: { errorCodes: [], written: false },
    };
    return graphql({ schema: app.schema, source, variableValues, contextValue }) as Promise<ExecutionResult<any>>;
  };
  const batch = async (inputs: unknown[], fields: string): Promise<any[]> => {
    const r = await run(`mutation($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { ${fields} } }`, { inputs });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    return r.data!.predictBatch;
  };
  const predict = async (input: unknown, fields: string): Promise<any> => {
    const r = await run(`mutation($input: SensorReadingInput!) { predict(input: $input) { ${fields} } }`, { input });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    return r.data!.predict;
  };

  before(async () => {
    // One ONNX run may hold a whole explained batch (6,000 rows), so run counts show the batching exactly.
    config = loadConfig({
      NODE_ENV: 'test',
      MODEL_DIR: process.env.MODEL_DIR ?? 'models',
      MAX_BATCH_SIZE: '6000',
      RATE_LIMIT_ENABLED: 'false',
    });
    models = new ModelHost();
    app = await createApp(config, logs.logger, models);
    service = await loadModel(config, logs.logger, models);
  });
  after(() => app.stop());

  it('costs nothing unless selected; a 1,000-row batch explained costs one more ONNX run of 5,000 rows', async () => {
    const inputs = ruleReadings('lowPower', 1000, 11);
    const measure = async (fields: string) => {
      const before = service.stats();
      const predictions = await batch(inputs, fields);
      const after = service.stats();
      return { predictions, runs: after.runs - before.runs, rows: after.rows - before.rows };
    };
    const plain = await measure('failureProbability');
    assert.deepEqual([plain.runs, plain.rows], [1, 1000]);
    const ranged = await measure(`failureProbability ${OUT_OF_RANGE}`);
    assert.deepEqual([ranged.runs, ranged.rows], [1, 1000], 'outOfRange runs no model');
    const explained = await measure(`failureProbability ${EXPLANATION}`);
    assert.deepEqual([explained.runs, explained.rows], [2, 6000], 'all variants of the batch share one run');
    assert.equal(explained.predictions.length, 1000);
    for (const p of explained.predictions) assert.equal(p.explanation.drivers.length, 5);
  });

  it('drivers: one per numeric reading, as sent, against its product-type reference, largest |effect| first', async () => {
    const inputs = [NORMAL_READING, { ...LOW_POWER, productType: 'H' as const }];
    const [a, b] = await batch(inputs, `failureProbability ${EXPLANATION}`);
    for (const [p, input] of [
      [a, inputs[0]],
      [b, inputs[1]],
    ] as const) {
      const drivers: Driver[] = p.explanation.drivers;
      assert.deepEqual(drivers.map((d) => d.field).sort(), Object.keys(FIELD_OF).sort());
      for (const d of drivers) {
        assert.equal(d.value, input[FIELD_OF[d.field]]);
        assert.equal(d.reference, service.manifest.references[input.productType][FIELD_OF[d.field]]);
      }
      for (let i = 1; i < drivers.length; i++) assert.ok(Math.abs(drivers[i - 1].effect) >= Math.abs(drivers[i].effect));
    }
    const q = b.explanation;
    assert.ok(Math.abs(q.temperatureDifference - (LOW_POWER.processTemperature - LOW_POWER.airTemperature)) < 1e-9);
    assert.ok(Math.abs(q.power - 18 * 1500 * RAD_PER_S_PER_RPM) < 1e-6);
    assert.equal(q.strain, LOW_POWER.toolWear * 18);
  });

  it('effect is P(reading) - P(reading with the field at its reference), as the model answers each', async () => {
    const p = await predict(LOW_POWER, `failureProbability ${EXPLANATION}`);
    for (const d of p.explanation.drivers as Driver[]) {
      const variant = await predict({ ...LOW_POWER, [FIELD_OF[d.field]]: d.reference }, 'failureProbability');
      assert.ok(Math.abs(d.effect - (p.failureProbability - variant.failureProbability)) < 1e-6, `${d.field}: ${d.effect}`);
    }
  });

  it('signs follow the physics: a low-power reading is driven by torque, and raising it lowers the risk', async () => {
    const p = await predict(LOW_POWER, `predictedFailureType failureProbability ${EXPLANATION}`);
    assert.equal(p.predictedFailureType, 'POWER_FAILURE');
    const [top] = p.explanation.drivers as Driver[];
    assert.equal(top.field, 'TORQUE');
    assert.ok(top.effect > 0.3, `torque effect ${top.effect}`);
    // The same for overstrain: a worn tool under high torque; putting the wear back to typical lowers the risk.
    const worn = await predict(
      { ...NORMAL_READING, toolWear: 220, torque: 60, rotationalSpeed: 1400 },
      `predictedFailureType ${EXPLANATION}`,
    );
    assert.equal(worn.predictedFailureType, 'OVERSTRAIN_FAILURE');
    const wear = (worn.explanation.drivers as Driver[]).find((d) => d.field === 'TOOL_WEAR')!;
    assert.ok(wear.effect > 0.3, `tool wear effect ${wear.effect}`);
  });

  it('a reading at its references has no drivers: every effect is exactly 0', async () => {
    const atReference = { ...service.manifest.references.M, productType: 'M' as const };
    const p = await predict(atReference, EXPLANATION);
    assert.deepEqual(
      (p.explanation.drivers as Driver[]).map((d) => d.effect),
      [0, 0, 0, 0, 0],
    );
  });

  for (const [rule, expected, inputs] of [
    ['heat', 'HEAT_DISSIPATION_FAILURE', ['AIR_TEMPERATURE', 'PROCESS_TEMPERATURE', 'ROTATIONAL_SPEED']],
    ['lowPower', 'POWER_FAILURE', ['TORQUE', 'ROTATIONAL_SPEED']],
    ['highPower', 'POWER_FAILURE', ['TORQUE', 'ROTATIONAL_SPEED']],
    ['overstrain', 'OVERSTRAIN_FAILURE', ['TOOL_WEAR', 'TORQUE']],
  ] as const) {
    it(`meaning (${rule}): the top driver is one of the rule's inputs, raising the risk, for >= 95 % of correctly predicted rows`, async () => {
      const predictions = await batch(ruleReadings(rule, 200, 7), `predictedFailureType ${EXPLANATION}`);
      const correct = predictions.filter((p) => p.predictedFailureType === expected);
      // The percentage only means something over enough rows the model gets right.
      assert.ok(correct.length >= 50, `only ${correct.length} of 200 ${rule} rows predicted ${expected}`);
      const agree = correct.filter((p) => {
        const top: Driver = p.explanation.drivers[0];
        return (inputs as readonly string[]).includes(top.field) && top.effect > 0;
      });
      const share = agree.length / correct.length;
      assert.ok(share >= 0.95, `${rule}: top driver is a rule input for ${(100 * share).toFixed(1)} % of ${correct.length} rows`);
    });
  }

  it('outOfRange: empty inside the envelope; Celsius readings list both temperatures with their training ranges', async () => {
    const info = (await run('{ modelInfo { inputs { field trainingMin trainingMax } } }')).data!.modelInfo;
    const range = (field: string) => info.inputs.find((i: any) => i.field === field);
    const [inside, celsius] = await batch(
      [NORMAL_READING, { ...NORMAL_READING, airTemperature: 25, processTemperature: 35 }],
      `isAnomaly ${OUT_OF_RANGE}`,
    );
    assert.deepEqual(inside.outOfRange, []);
    // graphql-js builds results on null-prototype objects: compare plain copies.
    assert.deepEqual(JSON.parse(JSON.stringify(celsius.outOfRange)), [
      {
        field: 'AIR_TEMPERATURE',
        value: 25,
        trainingMin: range('airTemperature').trainingMin,
        trainingMax: range('airTemperature').trainingMax,
      },
      {
        field: 'PROCESS_TEMPERATURE',
        value: 35,
        trainingMin: range('processTemperature').trainingMin,
        trainingMax: range('processTemperature').trainingMax,
      },
    ]);
    assert.equal(celsius.isAnomaly, true);
  });
});

/** Through HTTP: Apollo, the graphql-jit executor and the rate limiter. */
describe('explanation over HTTP and its rate-limit cost', () => {
  let s: TestServer;
  const RATE = '{ rateLimit { rowsUsed used } }';
  const rowsUsed = async () => (await s.gql(RATE)).body.data.rateLimit.rowsUsed as number;
  const spends = async (query: string, variables: Record<string, unknown>): Promise<number> => {
    const before = await rowsUsed();
    const r = await s.gql(query, variables);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    return (await rowsUsed()) - before;
  };

  before(async () => {
    s = await startServer({ LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '100', RATE_LIMIT_ROWS_MAX: '60', MAX_BATCH_ROWS: '10' });
  });
  after(() => s.close());

  it('serves explanations and out-of-range readings with enum names through the jit executor', async () => {
    const r = await s.gql(
      `mutation($inputs: [SensorReadingInput!]!) { predictBatch(inputs: $inputs) { predictedFailureType ${OUT_OF_RANGE} ${EXPLANATION} } }`,
      { inputs: [LOW_POWER, { ...NORMAL_READING, airTemperature: 25 }] },
    );
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const [low, celsius] = r.body.data.predictBatch;
    assert.equal(low.explanation.drivers[0].field, 'TORQUE');
    assert.ok(low.explanation.drivers[0].effect > 0);
    assert.deepEqual(low.outOfRange, []);
    assert.deepEqual(
      celsius.outOfRange.map((o: any) => o.field),
      ['AIR_TEMPERATURE'],
    );
  });

  it('an explained reading costs 6 rows, however explanation is selected; a skipped one costs 1', async () => {
    const used = await rowsUsed();
    const PREDICT = 'mutation($i: SensorReadingInput!) { predict(input: $i) { label explanation { power } } }';
    assert.equal(await spends(PREDICT, { i: NORMAL_READING }), 6);
    assert.equal(await spends('mutation($i: SensorReadingInput!) { predict(input: $i) { label } }', { i: NORMAL_READING }), 1);
    const viaFragments = `
      fragment Why on Prediction { explanation { drivers { field } } }
      mutation($rows: [SensorReadingInput!]!) { predictBatch(inputs: $rows) { ... on Prediction { ...Why } } }`;
    assert.equal(await spends(viaFragments, { rows: [NORMAL_READING, LOW_POWER] }), 12);
    const skipped =
      'mutation($rows: [SensorReadingInput!]!, $why: Boolean!) { predictBatch(inputs: $rows) { label explanation @include(if: $why) { power } } }';
    assert.equal(await spends(skipped, { rows: [NORMAL_READING, LOW_POWER], why: false }), 2);
    assert.equal(await spends(skipped, { rows: [NORMAL_READING], why: true }), 6);
    assert.equal(await rowsUsed(), used + 27);
  });

  it('refuses an explained batch that the row budget cannot cover (though its plain rows would fit), charging it nothing', async () => {
    const EXPLAINED = 'mutation($rows: [SensorReadingInput!]!) { predictBatch(inputs: $rows) { explanation { power } } }';
    const remaining = 60 - (await rowsUsed());
    const fit = Math.floor(remaining / 6);
    assert.ok(fit >= 1 && fit + 1 <= remaining && fit + 1 <= 10, `remaining ${remaining}`);
    const over = await s.gql(EXPLAINED, { rows: Array.from({ length: fit + 1 }, () => NORMAL_READING) });
    assert.equal(over.status, 429);
    assert.equal(over.body.errors?.[0]?.extensions?.code, 'RATE_LIMITED');
    assert.equal(over.body.errors?.[0]?.extensions?.budget, 'rows');
    assert.equal(await rowsUsed(), 60 - remaining, 'the refused call spent no rows');
    assert.equal(await spends(EXPLAINED, { rows: Array.from({ length: fit }, () => NORMAL_READING) }), 6 * fit);
  });
});
