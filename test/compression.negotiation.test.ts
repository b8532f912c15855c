// Which encoding a client that accepts several gets. Browsers send `gzip, deflate, br` and curl --compressed
// `deflate, gzip, br, zstd`: with equal weights the server's preference decides, and brotli (quality 4) is the
// one chosen for its smaller JSON at gzip's CPU (src/app.ts). app.unit.test.ts asks for one encoding at a
// time, which cannot tell a preference from its reverse.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync } from 'node:zlib';
import { startServer, type TestServer } from './helpers/server';

function get(port: number, path: string, acceptEncoding: string): Promise<{ encoding: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { 'accept-encoding': acceptEncoding }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}

describe('compression: the encoding chosen among several accepted', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ COMPRESSION_THRESHOLD_BYTES: '100', INTROSPECTION: 'true' }, { load: false });
  });
  after(() => s.close());

  for (const accepted of ['gzip, deflate, br', 'deflate, gzip, br, zstd', 'gzip, br']) {
    it(`answers "${accepted}" with brotli`, async () => {
      const res = await get(s.port, '/schema.graphql', accepted);
      assert.equal(res.encoding, 'br');
      assert.match(brotliDecompressSync(res.body).toString(), /type Query/);
    });
  }

  it('still honours a client that weighs gzip above brotli', async () => {
    const res = await get(s.port, '/schema.graphql', 'br;q=0.5, gzip');
    assert.equal(res.encoding, 'gzip');
  });
});
