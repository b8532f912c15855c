import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layerOf, summarizeProfile, type CpuProfile } from '../bench/lib/profile';

// A profile small enough to add up by hand: idle, (program) and module loading are not busy time; a
// native leaf (writev) is charged to the Node.js frame that called it, not to Fastify further up.
const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({
  id,
  callFrame: { functionName, url, lineNumber: 0 },
  children,
});
const PROFILE: CpuProfile = {
  nodes: [
    frame(1, '(root)', '', [2, 3, 4, 5, 9, 10, 11]),
    frame(2, '(idle)', ''),
    frame(3, '(program)', ''),
    frame(4, '(garbage collector)', ''),
    frame(5, 'onSendEnd', 'file:///app/node_modules/fastify/lib/reply.js', [7]),
    frame(7, 'writevGeneric', 'node:internal/stream_base_commons', [8]),
    frame(8, 'writev', ''),
    frame(9, 'processGraphQLRequest', 'file:///app/node_modules/@apollo/server/dist/cjs/requestPipeline.js'),
    frame(10, 'admitRequest', '/app/dist/src/http/graphql.plugin.js'),
    frame(11, 'Module._load', 'node:internal/modules/cjs/loader', [12]),
    frame(12, 'compileSchema', '/app/dist/src/schema/index.js'),
  ],
  samples: [2, 3, 4, 8, 9, 10, 12, 10],
  timeDeltas: [100, 100, 200, 300, 100, 100, 1000, 200],
};

describe('bench profile summary (npm run bench -- --profile)', () => {
  it('charges busy samples to layers, leaving out idle, (program) and module loading', () => {
    const s = summarizeProfile(PROFILE);
    assert.equal(s.busyMs, 0.9);
    assert.deepEqual(
      s.layers.map(({ layer, share }) => [layer, Math.round(share * 900)]),
      [
        ['Node.js core (HTTP, sockets, streams, timers)', 300],
        ['this API (dist/src)', 300],
        ['garbage collection', 200],
        ['Apollo Server', 100],
      ],
    );
    const shares = s.layers.reduce((sum, l) => sum + l.share, 0);
    assert.ok(Math.abs(shares - 1) < 1e-12);
  });

  it('lists the functions with the most self time, named with their package-relative path', () => {
    const s = summarizeProfile(PROFILE, 2);
    assert.deepEqual(
      s.top.map(({ name, share }) => [name, Math.round(share * 900)]),
      [
        ['writev', 300],
        ['admitRequest src/http/graphql.plugin.js', 300],
      ],
    );
  });

  it('tells graphql-jit, Apollo, Fastify, pino and our code apart by path', () => {
    assert.equal(
      layerOf('file:///a/node_modules/graphql-jit/dist/execution.js'),
      'GraphQL execution (graphql-jit, graphql-js, type-graphql, class-validator)',
    );
    assert.equal(layerOf('file:///a/node_modules/@as-integrations/fastify/build/index.js'), 'Apollo Server');
    assert.equal(layerOf('file:///a/node_modules/@fastify/cors/index.js'), 'Fastify and its plugins');
    assert.equal(layerOf('file:///a/node_modules/sonic-boom/index.js'), 'logging (pino)');
    assert.equal(layerOf('file:///a/node_modules/onnxruntime-node/dist/backend.js'), 'onnxruntime');
    assert.equal(layerOf('/a/dist/src/inference/batcher.js'), 'this API (dist/src)');
    assert.equal(layerOf('node:_http_server'), 'Node.js core (HTTP, sockets, streams, timers)');
    assert.equal(layerOf(''), undefined);
  });
});
