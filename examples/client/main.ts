/**
 * The typed client against a running server: one prediction, then a batch with an impossible reading to
 * show the error shape. Run it with `npm run example:client` (compiles with tsc, runs with plain node;
 * SERVER_URL defaults to http://localhost:4000/graphql, API_KEY is sent as x-api-key when set).
 * README's "The typed client" snippet is the region below, copied verbatim (a test checks it).
 */
// #region readme
import { execute, GraphQLRequestError } from '../../client/execute';
import { PredictBatchDocument, PredictDocument, type SensorReadingInput } from '../../client/generated/graphql';

const url = process.env.SERVER_URL ?? 'http://localhost:4000/graphql';
const headers: Record<string, string> = process.env.API_KEY ? { 'x-api-key': process.env.API_KEY } : {};

async function main(): Promise<void> {
  const reading: SensorReadingInput = {
    airTemperature: 300.1,
    processTemperature: 310.2,
    rotationalSpeed: 1500,
    torque: 40,
    toolWear: 100,
    productType: 'L',
  };
  const { predict } = await execute(url, PredictDocument, { input: reading }, { headers });
  console.log(predict.label, predict.probability, predict.isAnomaly ? 'anomalous reading' : 'reading within training range');

  try {
    await execute(url, PredictBatchDocument, { inputs: [reading, { ...reading, torque: -5 }] }, { headers });
  } catch (err) {
    if (!(err instanceof GraphQLRequestError) || err.code !== 'BAD_USER_INPUT') throw err;
    console.table(err.errors[0].extensions?.violations); // row 1, field torque, value -5, constraint min
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
// #endregion readme
