// node:cluster's primary side and the process, faked for src/cluster.ts's runPrimary (see PrimaryOptions).
import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';

/** A worker as the primary sees it: what it was sent, which signals it got, whether it can still be reached. */
export class FakeWorker extends EventEmitter {
  readonly sent: Array<Record<string, unknown>> = [];
  readonly signals: string[] = [];
  connected = true;
  dead = false;
  readonly process: { pid: number; kill: (signal: string) => boolean };
  constructor(readonly id: number) {
    super();
    this.process = { pid: 4000 + id, kill: (signal) => (this.signals.push(signal), true) };
  }
  /** Where the sent messages also go (a test delivering them to this process's IPC listeners). */
  deliver?: (message: Record<string, unknown>) => void;
  send(message: Record<string, unknown>): boolean {
    this.sent.push(message);
    this.deliver?.(message);
    return true;
  }
  isConnected(): boolean {
    return this.connected;
  }
  isDead(): boolean {
    return this.dead;
  }
}

/** node:cluster as the primary sees it: ids never reused, a dead worker leaves `workers` before 'exit' is emitted. */
export class FakeCluster extends EventEmitter {
  readonly workers: Record<number, FakeWorker> = {};
  readonly forked: FakeWorker[] = [];
  fork(): Worker {
    const worker = new FakeWorker(this.forked.length + 1);
    this.forked.push(worker);
    this.workers[worker.id] = worker;
    return worker as unknown as Worker;
  }
  exit(worker: FakeWorker, code: number | null, signal: string | null = null): void {
    worker.dead = true;
    worker.connected = false;
    delete this.workers[worker.id];
    worker.emit('exit', code, signal);
    this.emit('exit', worker, code, signal);
  }
  message(worker: FakeWorker, message: Record<string, unknown>): void {
    this.emit('message', worker, message);
  }
}

export class FakeProcess extends EventEmitter {
  readonly exits: number[] = [];
  constructor(private readonly events: string[]) {
    super();
  }
  exit(code: number): void {
    this.events.push(`exit ${code}`);
    this.exits.push(code);
  }
}
