import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createLogger } from '../src/logger';

// The process logger (src/logger.ts): JSON lines with the level's name, an ISO time and the service, key
// material removed; asynchronous stdout by default; pino-pretty (LOG_PRETTY) in a worker thread.

function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('writes JSON lines with the level name, an ISO time and the service, and no pid or hostname', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ logLevel: 'info' }, stream);
    logger.info({ requestId: 'r-1' }, 'hello');
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line.level, 'info');
    assert.equal(line.msg, 'hello');
    assert.equal(line.requestId, 'r-1');
    assert.equal(line.service, 'predictive-maintenance-api');
    assert.equal(typeof line.time, 'string');
    assert.equal(new Date(line.time as string).toISOString(), line.time);
    assert.equal('pid' in line, false);
    assert.equal('hostname' in line, false);
  });

  it('writes at the configured level and above only', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ logLevel: 'warn' }, stream);
    logger.info('not written');
    logger.warn('written');
    logger.error('written too');
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        ['warn', 'written'],
        ['error', 'written too'],
      ],
    );
    const debug = capture();
    createLogger({ logLevel: 'debug' }, debug.stream).debug('seen');
    assert.deepEqual(
      debug.lines.map((l) => l.level),
      ['debug'],
    );
  });

  it('removes the Authorization and x-api-key headers and any apiKey field, keeping the rest', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ logLevel: 'info' }, stream);
    logger.info({ req: { headers: { authorization: 'Bearer secret', 'x-api-key': 'k-secret', accept: 'json' } }, apiKey: 'k2' }, 'req');
    assert.deepEqual(lines[0].req, { headers: { accept: 'json' } });
    assert.equal('apiKey' in lines[0], false);
    assert.equal(JSON.stringify(lines[0]).includes('secret'), false);
  });

  it('writes to stdout asynchronously when given no destination and no pretty printing', () => {
    const logger = createLogger({ logLevel: 'info', logPretty: false });
    const stream = (logger as unknown as Record<symbol, { fd: number; sync: boolean }>)[pino.symbols.streamSym];
    assert.equal(stream.fd, 1);
    assert.equal(stream.sync, false);
    // The destination given wins over pretty printing.
    const { lines, stream: sink } = capture();
    createLogger({ logLevel: 'info', logPretty: true }, sink).info('plain');
    assert.equal(lines[0].msg, 'plain');
  });

  it('pretty-prints through pino-pretty with a local time, without pid, hostname or service', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'logger-')), 'pretty.log');
    const logger = createLogger({ logLevel: 'info', logPretty: true }, undefined, file);
    const stream = (logger as unknown as Record<symbol, NodeJS.WritableStream & NodeJS.EventEmitter>)[pino.symbols.streamSym];
    // The worker thread does not hold the process open (pino unrefs it): this does until the file is closed.
    const hold = setInterval(() => undefined, 60_000);
    try {
      logger.info({ requestId: 'r-9' }, 'pretty hello');
      stream.end();
      await once(stream, 'close');
    } finally {
      clearInterval(hold);
    }
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: pretty hello\n {4}requestId: "r-9"\n$/);
    assert.equal(text.includes(String(process.pid)), false);
    assert.equal(text.includes('service'), false);
  });
});
