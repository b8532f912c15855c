// The GraphQL contract. schema.graphql is what clients are written against (the typed client, the
// operator console and their codegen read it); `npm run codegen` regenerates it from src/schema and
// src/resolvers. The schema the decorators build in-process must print exactly as committed: a renamed
// field, a lost description, a nullability or default changed by accident fails here, not in a client.
// Beyond the SDL: the enums' internal values (which the SDL does not show) are the inference layer's
// strings, and the global middlewares (the rate limiter) reach root fields and field resolvers only.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { graphql, type GraphQLEnumType } from 'graphql';
import pino from 'pino';
import type { MiddlewareFn } from 'type-graphql';
import { loadConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { NUMERIC_FIELDS } from '../src/inference/explanation';
import { ModelHost, type ModelState } from '../src/inference/model-host';
import { FAILURE_TYPES, PRODUCT_TYPE_CODE } from '../src/inference/model-io';
import { ModelResolver } from '../src/resolvers/model.resolver';
import { buildAppSchema } from '../src/schema';
import { schemaToSdl } from '../src/scripts/emit-schema';
import { buildSchema } from '../src/server';
import { contextFor, fakeService } from './helpers/fake-models';
import { NORMAL_READING } from './helpers/readings';

const silent = pino({ level: 'silent' });

describe('schema contract', () => {
  it('the resolvers build exactly the committed schema.graphql', async () => {
    const committed = readFileSync('schema.graphql', 'utf8');
    assert.equal(schemaToSdl(await buildSchema()), committed, 'schema.graphql is stale or the schema changed: run `npm run codegen`');
  });

  it('buildAppSchema builds the schema of the resolvers it is given, and only those', async () => {
    const schema = await buildAppSchema({ resolvers: [ModelResolver] });
    assert.deepEqual(Object.keys(schema.getQueryType()!.getFields()).sort(), ['health', 'modelInfo']);
    assert.deepEqual(Object.keys(schema.getMutationType()!.getFields()), ['reloadModel']);
    assert.equal(schema.getType('Prediction'), undefined);
  });

  it("each enum's values are the inference layer's strings, so answers pass through unmapped", async () => {
    const schema = await buildSchema();
    const values = (name: string) => (schema.getType(name) as GraphQLEnumType).getValues().map((v) => [v.name, v.value]);
    assert.deepEqual(
      values('FailureType'),
      FAILURE_TYPES.map((t) => [t, t]),
    );
    assert.deepEqual(
      values('ProductType'),
      Object.keys(PRODUCT_TYPE_CODE).map((t) => [t, t]),
    );
    // camelCase field names as SCREAMING_SNAKE_CASE enum names.
    assert.deepEqual(
      values('ReadingField'),
      NUMERIC_FIELDS.map((f) => [f.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase(), f]),
    );
    const statuses = ['INSUFFICIENT_DATA', 'NONE', 'MODERATE', 'SIGNIFICANT'];
    assert.deepEqual(
      values('DriftStatus'),
      statuses.map((s) => [s, s]),
    );
    // health.status is the host's state upper-cased.
    const states: Array<ModelState['status']> = ['loading', 'ready', 'draining', 'failed', 'closing'];
    assert.deepEqual(values('ServiceStatus').sort(), states.map((s) => [s.toUpperCase(), s.toUpperCase()]).sort());
  });
});

const EVERY_FIELD = `
  health { status modelLoaded device uptimeSeconds serverVersion modelVersion }
  modelInfo {
    name version createdAt datasetSha256 dataLicence
    inputs { field column unit trainingMin trainingMax }
    failureTypes { failureType label f1 { mean std } nearBoundaryF1 }
    anomalyThreshold anomalyThresholdMethod
    metrics { protocol nearBoundaryProtocol binaryF1 { mean std } macroF1 { mean std } accuracy { mean std } }
    device availableProviders
    batching { maxBatchSize maxBatchWaitMs maxQueueRows maxBatchRows queuedRows runs rows meanRowsPerRun }
    drift {
      windowRows windowSize minRows psiModerate psiSignificant rowsSeen anomalyRate trainingAnomalyRate
      fields { field psi status } classMix { failureType live training }
    }
    shadow { version rowsCompared agreement anomalyAgreement meanAbsProbabilityDelta disagreements { primary shadow rows } }
  }
  rateLimit {
    enabled store available identifiedBy limit used remaining rowsLimit rowsUsed rowsRemaining windowSeconds resetAt
    requestsLimit requestsUsed requestsRemaining requestsWindowSeconds requestsResetAt
  }`;

const PREDICTION_FIELDS = `id predictedFailureType label probability failureProbability probabilities { failureType label probability }
  reconstructionError anomalyThreshold isAnomaly device modelVersion
  explanation { temperatureDifference power strain drivers { field value reference effect } }
  outOfRange { field value trainingMin trainingMax }`;

describe('global middlewares (the rate limiter) run on root fields and field resolvers only', () => {
  it('object types resolve their plain fields without the middleware', async () => {
    const seen = new Set<string>();
    const record: MiddlewareFn<AppContext> = async ({ info }, next) => {
      seen.add(`${info.parentType.name}.${info.fieldName}`);
      return next();
    };
    const schema = await buildSchema([record]);
    const config = loadConfig({ RATE_LIMIT_ENABLED: 'false' });
    const models = new ModelHost();
    const fake = fakeService();
    fake.explanation = {
      temperatureDifference: 10,
      power: 6000,
      strain: 4000,
      drivers: [{ field: 'torque', value: 40, reference: 40, effect: 0 }],
    };
    fake.outOfRange = [{ field: 'toolWear', value: 300, trainingMin: 0, trainingMax: 251 }];
    await models.load(async () => fake.service);
    models.shadowSummary = async () => ({
      version: 'shadow-1',
      rowsCompared: 3,
      agreement: 2 / 3,
      anomalyAgreement: 1,
      meanAbsProbabilityDelta: 0.01,
      disagreements: [{ primary: 'NO_FAILURE', shadow: 'POWER_FAILURE', rows: 1 }],
    });
    const contextValue = contextFor(config, models, silent);
    const query = await graphql({ schema, source: `{ ${EVERY_FIELD} }`, contextValue });
    assert.equal(query.errors, undefined);
    assert.equal((query.data as any).modelInfo.shadow.disagreements.length, 1);
    const mutation = await graphql({
      schema,
      source: `mutation($r: SensorReadingInput!) { predict(input: $r) { ${PREDICTION_FIELDS} } predictBatch(inputs: [$r]) { id } }`,
      variableValues: { r: NORMAL_READING },
      contextValue,
    });
    assert.equal(mutation.errors, undefined);
    assert.deepEqual([...seen].sort(), [
      'Mutation.predict',
      'Mutation.predictBatch',
      'Prediction.explanation',
      'Prediction.outOfRange',
      'Query.health',
      'Query.modelInfo',
      'Query.rateLimit',
    ]);
  });
});
