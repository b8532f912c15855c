import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { IpcClient, type IpcRequest } from '../src/cluster-ipc';

// A worker's side of the cluster's request/answer channel, with the IPC pipe replaced by a recording
// process.send and answers delivered as 'message' events, as node:cluster delivers them.

type SendCallback = (err: Error | null) => void;
let sent: IpcRequest[] = [];
let sendError: Error | null = null;
const realSend = process.send;
const realConnected = Object.getOwnPropertyDescriptor(process, 'connected');

function connect(connected = true): void {
  process.send = ((message: IpcRequest, _handle: unknown, _options: unknown, callback: SendCallback) => {
    sent.push(message);
    setImmediate(() => callback(sendError));
    return true;
  }) as typeof process.send;
  Object.defineProperty(process, 'connected', { value: connected, configurable: true });
}

const answer = (message: unknown) => process.emit('message' as never, message as never);
const settle = () => new Promise((r) => setImmediate(r));

describe('IpcClient: request and answer over the cluster channel', () => {
  beforeEach(() => {
    sent = [];
    sendError = null;
    connect();
  });
  afterEach(() => {
    process.send = realSend;
    if (realConnected) Object.defineProperty(process, 'connected', realConnected);
    else delete (process as { connected?: boolean }).connected;
    process.removeAllListeners('message');
  });

  it('tags each request with its channel and a fresh id, and resolves each with its own answer in any order', async () => {
    const client = new IpcClient('pm-test', 5_000);
    const first = client.request<number>({ op: 'a', n: 1 });
    const second = client.request<number>({ op: 'b' });
    assert.deepEqual(sent, [
      { op: 'a', n: 1, pm: 'pm-test', id: 1 },
      { op: 'b', pm: 'pm-test', id: 2 },
    ]);
    answer({ pm: 'pm-test', id: 2, result: 'two' });
    answer({ pm: 'pm-test', id: 1, result: 'one' });
    assert.deepEqual(await Promise.all([first, second]), ['one', 'two']);
  });

  it("rejects with the primary's error message, and ignores answers on other channels or without a numeric id", async () => {
    const client = new IpcClient('pm-test', 5_000);
    const pending = client.request({ op: 'x' });
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    answer({ pm: 'pm-other', id: 1, result: 'not mine' });
    answer({ pm: 'pm-test', id: '1', result: 'not an id' });
    answer(undefined);
    answer({ pm: 'pm-test', id: 99, result: 'nobody asked' });
    await settle();
    assert.equal(settled, false);
    answer({ pm: 'pm-test', id: 1, error: 'limiter store down' });
    await assert.rejects(pending, { message: 'limiter store down' });
  });

  it('rejects at once when the process has no primary to ask', async () => {
    process.send = undefined;
    await assert.rejects(new IpcClient('pm-test', 50).request({}), { message: 'not connected to a cluster primary' });
    connect(false);
    await assert.rejects(new IpcClient('pm-test', 50).request({}), { message: 'not connected to a cluster primary' });
    assert.deepEqual(sent, []);
  });

  it('rejects a request the primary does not answer in time, naming the timeout; a late answer is dropped', async () => {
    const client = new IpcClient('pm-test', 20);
    const started = Date.now();
    await assert.rejects(client.request({ op: 'slow' }), { message: 'the cluster primary did not answer within 20 ms' });
    assert.ok(Date.now() - started >= 19);
    answer({ pm: 'pm-test', id: 1, result: 'late' });
    // The next request still gets its own answer.
    const next = client.request<string>({ op: 'next' });
    answer({ pm: 'pm-test', id: 2, result: 'on time' });
    assert.equal(await next, 'on time');
  });

  it('takes an answer that arrives before the timeout, and the timer does not reject it afterwards', async () => {
    const client = new IpcClient('pm-test', 30);
    const pending = client.request<string>({ op: 'quick' });
    answer({ pm: 'pm-test', id: 1, result: 'quick' });
    assert.equal(await pending, 'quick');
    await new Promise((r) => setTimeout(r, 50));
  });

  it('rejects with the send error when the message cannot be written, and ignores an answer after it', async () => {
    sendError = new Error('channel closed');
    const client = new IpcClient('pm-test', 5_000);
    const pending = client.request({ op: 'x' });
    await assert.rejects(pending, { message: 'channel closed' });
    answer({ pm: 'pm-test', id: 1, result: 'too late' });
    sendError = null;
    const next = client.request<string>({ op: 'y' });
    answer({ pm: 'pm-test', id: 2, result: 'fine' });
    assert.equal(await next, 'fine');
  });
});
