// The graphql-jit executor (src/schema/executor.ts) on a small schema, driven as Apollo's gateway
// interface calls it: what it answers must be what graphql-js's execute answers (data, resolver errors,
// variable errors, operation selection), each document is compiled once, and a document the jit cannot
// compile still gets graphql-js's answer. The whole server's parity is test/executor.parity.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApolloServer } from '@apollo/server';
import { buildSchema, execute, GraphQLError, parse, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery } from 'graphql-jit';
import { jitGateway } from '../src/schema/executor';

interface Ctx {
  who: string;
}

/** A schema whose resolvers count their calls: a resolver that runs twice for one request is a bug. */
function testSchema() {
  const schema = buildSchema(`
    type Query {
      greeting(name: String = "world"): String
      count(n: Int!): Int
      caller: String
      fails: Int
      refuses: Int
      strict: Int!
      nested: Nested
    }
    type Nested { inner: Int, deep: Int }
  `);
  const calls: string[] = [];
  const thrown: Error[] = [];
  const fields = schema.getQueryType()!.getFields();
  const on = (name: string, resolve: (args: any, ctx: Ctx) => unknown) => {
    fields[name].resolve = (_root, args, ctx) => {
      calls.push(name);
      return resolve(args, ctx);
    };
  };
  on('greeting', (args) => `Hello ${args.name}`);
  on('count', (args) => args.n);
  on('caller', (_args, ctx) => ctx.who);
  on('fails', () => {
    const err = Object.assign(new Error('the sensor is offline'), { extensions: { code: 'SENSOR_OFFLINE', sensor: 7 } });
    thrown.push(err);
    throw err;
  });
  on('refuses', async () => {
    const err = new GraphQLError('not for you', { extensions: { code: 'FORBIDDEN' } });
    thrown.push(err);
    throw err;
  });
  on('strict', () => {
    const err = new Error('no value');
    thrown.push(err);
    throw err;
  });
  on('nested', () => ({}));
  const nested = (schema.getType('Nested') as any).getFields();
  nested.inner.resolve = () => 1;
  nested.deep.resolve = () => {
    const err = new Error('deep down');
    thrown.push(err);
    throw err;
  };
  return { schema, calls, thrown };
}

type Executor = (ctx: unknown) => Promise<ExecutionResult>;

/** The gateway with a compile function that records each compilation's operation name. */
async function gatewayFor(schema: GraphQLSchema) {
  const compiles: Array<string | undefined> = [];
  const gateway = jitGateway(schema, (s, d, name, options) => {
    compiles.push(name);
    return compileQuery(s, d, name, options);
  });
  const loaded = await gateway.load({} as never);
  const executor = loaded.executor as unknown as Executor;
  const run = (document: DocumentNode, request: { variables?: Record<string, unknown>; operationName?: string | null } = {}, who = 'ada') =>
    executor({ document, request, context: { who } });
  return { gateway, loaded, compiles, run };
}

/** graphql-js's own answer to the same request. */
function reference(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables?: Record<string, unknown>,
  operationName?: string,
  who = 'ada',
) {
  return execute({ schema, document, variableValues: variables, operationName, contextValue: { who } }) as Promise<ExecutionResult>;
}

/** graphql-js builds data objects without a prototype; compare what a client would read. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** Every property of an error that Apollo's formatter and the error boundary read. */
function errorShape(e: GraphQLError) {
  return {
    prototype: Object.getPrototypeOf(e),
    message: e.message,
    path: e.path,
    locations: e.locations,
    extensions: e.extensions,
    originalError: e.originalError,
    json: JSON.stringify(e),
  };
}

describe('jitGateway: answers as graphql-js does', () => {
  it('returns data, with variables and argument defaults, and hands the context to resolvers', async () => {
    const { schema } = testSchema();
    const { run } = await gatewayFor(schema);
    const doc = parse('query Q($n: String) { greeting(name: $n) caller }');
    assert.deepEqual(await run(doc, { variables: { n: 'Grace' } }), { data: { greeting: 'Hello Grace', caller: 'ada' } });
    // No variables at all: the argument's default applies, as in graphql-js.
    assert.deepEqual(await run(doc, {}, 'lin'), { data: { greeting: 'Hello world', caller: 'lin' } });
    assert.deepEqual(plain(await run(doc, {}, 'lin')), plain(await reference(schema, doc, undefined, undefined, 'lin')));
  });

  it('rebuilds resolver errors as graphql-js locates them (message, path, locations, extensions, originalError)', async () => {
    const { schema, thrown } = testSchema();
    const { run } = await gatewayFor(schema);
    const doc = parse('{ greeting fails refuses nested { inner deep } }');
    const jit = await run(doc);
    const jitThrown = thrown.splice(0);
    const js = await reference(schema, doc);
    assert.deepEqual(plain(jit.data), plain(js.data));
    assert.deepEqual(jit.data, { greeting: 'Hello world', fails: null, refuses: null, nested: { inner: 1, deep: null } });
    assert.equal(jit.errors?.length, 3);
    // graphql-js lists the async resolver's error last; the order of errors is not part of the answer.
    const byPath = (errors: readonly GraphQLError[]) => [...errors].sort((a, b) => String(a.path).localeCompare(String(b.path)));
    const jitErrors = byPath(jit.errors!);
    assert.deepEqual(
      jitErrors.map((e) => errorShape(e)),
      byPath(js.errors!).map((e) => ({ ...errorShape(e), originalError: jitThrown.find((t) => t.message === e.message) })),
    );
    // The thrown error's own extensions reach the client (the error boundary reads their code).
    assert.deepEqual(jitErrors[0].extensions, { code: 'SENSOR_OFFLINE', sensor: 7 });
    assert.deepEqual(jitErrors[1].path, ['nested', 'deep']);
    assert.deepEqual(jitErrors[1].locations, [{ line: 1, column: '{ greeting fails refuses nested { inner deep } }'.indexOf('deep') + 1 }]);
  });

  it('a resolver error that nulls the whole result is not run again on graphql-js', async () => {
    const { schema, calls, thrown } = testSchema();
    const { run } = await gatewayFor(schema);
    const result = await run(parse('{ caller strict }'));
    assert.equal(result.data, null);
    assert.deepEqual(
      result.errors!.map((e) => [e.message, e.path, e.originalError]),
      [['no value', ['strict'], thrown[0]]],
    );
    assert.equal(Object.getPrototypeOf(result.errors![0]), GraphQLError.prototype);
    assert.deepEqual(calls, ['caller', 'strict'], 'each resolver ran once');
  });

  it("refused variables get graphql-js's errors, and no resolver runs", async () => {
    const { schema, calls } = testSchema();
    const { run } = await gatewayFor(schema);
    const doc = parse('query C($n: Int!) { count(n: $n) }');
    for (const variables of [{ n: 'seven' }, {}, undefined]) {
      const jit = await run(doc, { variables });
      const js = await reference(schema, doc, variables);
      assert.ok(js.errors && js.errors.length > 0 && !('data' in js));
      assert.deepEqual(
        jit.errors!.map((e) => errorShape(e)),
        js.errors.map((e) => errorShape(e)),
      );
      assert.ok(!('data' in jit), `no data for ${JSON.stringify(variables)}`);
    }
    assert.deepEqual(calls, []);
    assert.deepEqual(await run(doc, { variables: { n: 7 } }), { data: { count: 7 } });
  });

  it('a jit result whose data is present but undefined counts as no data: graphql-js says why', async () => {
    const { schema, calls } = testSchema();
    // What a graphql-jit that wrote `data: undefined` beside variable errors would answer.
    const jitAnswer = { data: undefined, errors: [new GraphQLError('jit: bad variable')] };
    const gateway = jitGateway(schema, (() => ({ query: async () => jitAnswer })) as unknown as typeof compileQuery);
    const executor = (await gateway.load({} as never)).executor as unknown as Executor;
    const doc = parse('query C($n: Int!) { count(n: $n) }');
    const result = await executor({ document: doc, request: { variables: { n: 'seven' } }, context: { who: 'ada' } });
    const js = await reference(schema, doc, { n: 'seven' });
    assert.deepEqual(
      result.errors!.map((e) => errorShape(e)),
      js.errors!.map((e) => errorShape(e)),
    );
    assert.match(result.errors![0].message, /Int cannot represent non-integer value/);
    assert.deepEqual(calls, []);
  });

  it("a document the jit does not compile runs on graphql-js with the request's operation, variables and context", async () => {
    const { schema, calls } = testSchema();
    const gateway = jitGateway(schema, (() => ({
      errors: [new GraphQLError('not supported by graphql-jit')],
    })) as unknown as typeof compileQuery);
    const executor = (await gateway.load({} as never)).executor as unknown as Executor;
    const document = parse('query P { count(n: 1) } query Q($n: String) { greeting(name: $n) caller }');
    const result = await executor({ document, request: { operationName: 'Q', variables: { n: 'Grace' } }, context: { who: 'lin' } });
    assert.deepEqual(plain(result), { data: { greeting: 'Hello Grace', caller: 'lin' } });
    assert.deepEqual(calls, ['greeting', 'caller']);
  });

  it('runs the named operation of a document holding several, and refuses as graphql-js does', async () => {
    const { schema } = testSchema();
    const { run } = await gatewayFor(schema);
    const doc = parse('query A { greeting } query B { caller }');
    assert.deepEqual(await run(doc, { operationName: 'A' }), { data: { greeting: 'Hello world' } });
    assert.deepEqual(await run(doc, { operationName: 'B' }), { data: { caller: 'ada' } });
    assert.deepEqual(await run(doc, { operationName: 'A' }), { data: { greeting: 'Hello world' } });
    // graphql-jit cannot compile these: graphql-js answers.
    for (const operationName of [undefined, null, 'C']) {
      const jit = await run(doc, { operationName });
      const js = await reference(schema, doc, undefined, operationName ?? undefined);
      assert.match(js.errors![0].message, operationName === 'C' ? /Unknown operation named "C"/ : /Must provide operation name/);
      assert.deepEqual(
        jit.errors!.map((e) => errorShape(e)),
        js.errors!.map((e) => errorShape(e)),
      );
    }
  });
});

describe('jitGateway: compiles each document once', () => {
  it('compiles once per document and operation name, and remembers a document it cannot compile', async () => {
    const { schema } = testSchema();
    const { run, compiles } = await gatewayFor(schema);
    const one = parse('query Q { greeting }');
    for (let i = 0; i < 3; i++) assert.deepEqual(await run(one), { data: { greeting: 'Hello world' } });
    assert.deepEqual(compiles, [undefined]);
    await run(one, { operationName: 'Q' });
    await run(one, { operationName: 'Q' });
    assert.deepEqual(compiles, [undefined, 'Q']);
    // The cache is keyed by the document object (Apollo's document store hands back the same one).
    await run(parse('query Q { greeting }'));
    assert.deepEqual(compiles, [undefined, 'Q', undefined]);

    const two = parse('query A { greeting } query B { caller }');
    for (let i = 0; i < 2; i++) {
      assert.match((await run(two, { operationName: 'Z' })).errors![0].message, /Unknown operation named "Z"/);
      assert.deepEqual((await run(two, { operationName: 'B' })).data, { caller: 'ada' });
    }
    assert.deepEqual(compiles.slice(3), ['Z', 'B']);
  });

  it('prepare compiles what requests for the document will name: each operation, and no name when there is one', async () => {
    const { schema } = testSchema();
    const cases: Array<[string, Array<string | undefined>]> = [
      ['query Q { greeting }', [undefined, 'Q']],
      ['{ greeting }', [undefined]],
      ['query A { greeting } query B { caller }', ['A', 'B']],
      ['query Q { ...F } fragment F on Query { greeting }', [undefined, 'Q']],
      ['fragment F on Query { greeting } query A { ...F } query B { caller }', ['A', 'B']],
    ];
    for (const [text, expected] of cases) {
      const { gateway, run, compiles } = await gatewayFor(schema);
      const doc = parse(text);
      gateway.prepare(doc);
      assert.deepEqual(compiles, expected, text);
      // Requests then find them compiled.
      for (const name of expected) assert.equal((await run(doc, { operationName: name })).errors, undefined, text);
      assert.equal(compiles.length, expected.length, text);
    }
  });
});

describe('jitGateway: the gateway interface Apollo Server drives', () => {
  it('loads the schema, reports it once, and stops', async () => {
    const { schema } = testSchema();
    const { gateway, loaded } = await gatewayFor(schema);
    assert.equal((loaded as unknown as { schema: GraphQLSchema }).schema, schema);
    const reports: unknown[] = [];
    const unsubscribe = gateway.onSchemaLoadOrUpdate((s) => reports.push(s));
    assert.deepEqual(reports, [{ apiSchema: schema, coreSupergraphSdl: '' }]);
    assert.equal(reports.length, 1);
    assert.equal(unsubscribe(), undefined);
    await gateway.stop();
  });

  it('Apollo Server executes through it, and a repeated query string reuses the compiled document', async () => {
    const { schema } = testSchema();
    const compiles: Array<string | undefined> = [];
    const gateway = jitGateway(schema, (s, d, name) => {
      compiles.push(name);
      return compileQuery(s, d, name);
    });
    const server = new ApolloServer<Ctx>({ gateway });
    await server.start();
    try {
      const ask = async (query: string) => {
        const res = await server.executeOperation({ query }, { contextValue: { who: 'apollo' } });
        assert.equal(res.body.kind, 'single');
        return (res.body as { singleResult: ExecutionResult }).singleResult;
      };
      for (let i = 0; i < 2; i++) {
        const answer = await ask('query Who { caller }');
        assert.deepEqual(answer.data, { caller: 'apollo' });
        assert.equal(answer.errors, undefined);
      }
      assert.deepEqual(compiles, [undefined]);
      const failed = await ask('{ fails }');
      assert.deepEqual(failed.data, { fails: null });
      assert.equal(failed.errors?.[0].extensions?.code, 'SENSOR_OFFLINE');
    } finally {
      await server.stop();
    }
  });
});
