import { open, readdir, rename, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import Redis from 'ioredis';
import type { PredictionRecord } from './record';

/** Where batches of records go. `write` resolves with how many were stored; it rejects when none were. */
export interface SinkWriter {
  readonly kind: 'file' | 'redis';
  /** False while the sink is known to be unreachable: records then wait in the buffer (up to its bound). */
  readonly available: boolean;
  write(records: readonly PredictionRecord[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * JSON lines appended to PATH. Before PATH would pass `maxBytes` it is renamed PATH.<n> (n one more
 * than the highest already there, so the numbers sort oldest first) and a new PATH is started; a
 * file only passes `maxBytes` when one record is larger than that. Lines are written whole, one
 * write per chunk, so a reader never sees half a record from a live process.
 */
export class FileWriter implements SinkWriter {
  readonly kind = 'file';
  readonly available = true;
  private handle: FileHandle | undefined;
  private size = 0;
  private nextRotation = 0;

  private constructor(
    readonly file: string,
    private readonly maxBytes: number,
  ) {}

  static async create(file: string, maxBytes: number): Promise<FileWriter> {
    const writer = new FileWriter(file, maxBytes);
    const base = path.basename(file);
    const taken = (await readdir(path.dirname(file)))
      .map((name) => (name.startsWith(`${base}.`) ? Number(name.slice(base.length + 1)) : NaN))
      .filter((n) => Number.isInteger(n) && n > 0);
    writer.nextRotation = Math.max(0, ...taken) + 1;
    return writer;
  }

  async write(records: readonly PredictionRecord[]): Promise<number> {
    let chunk = '';
    let chunkBytes = 0;
    let handle = await this.open();
    for (const record of records) {
      const line = JSON.stringify(record) + '\n';
      const bytes = Buffer.byteLength(line);
      if (this.size + chunkBytes + bytes > this.maxBytes && this.size + chunkBytes > 0) {
        if (chunkBytes > 0) await this.append(handle, chunk, chunkBytes);
        chunk = '';
        chunkBytes = 0;
        await this.rotate();
        handle = await this.open();
      }
      chunk += line;
      chunkBytes += bytes;
    }
    if (chunkBytes > 0) await this.append(handle, chunk, chunkBytes);
    return records.length;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async open(): Promise<FileHandle> {
    if (this.handle) return this.handle;
    const handle = await open(this.file, 'a');
    this.size = (await handle.stat()).size;
    this.handle = handle;
    return handle;
  }

  private async append(handle: FileHandle, chunk: string, bytes: number): Promise<void> {
    try {
      await handle.write(chunk);
    } catch (err) {
      // A failed handle (disk full, file removed under us) is reopened on the next write.
      this.handle = undefined;
      await handle.close().catch(() => undefined);
      throw err;
    }
    this.size += bytes;
  }

  private async rotate(): Promise<void> {
    await this.close();
    await rename(this.file, `${this.file}.${this.nextRotation++}`);
    this.size = 0;
  }
}

/**
 * XADD to one stream, trimmed with MAXLEN ~ (Redis trims whole macro nodes: cheap, and the stream
 * keeps at least maxRecords entries). One pipeline per batch. Each entry has two fields: `id` (the
 * prediction id, readable without parsing) and `record` (the JSON record).
 */
export class RedisWriter implements SinkWriter {
  readonly kind = 'redis';
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly stream: string,
    private readonly maxRecords: number,
    onError: (message: string) => void,
  ) {
    this.redis = new Redis(url, {
      // Never queue while disconnected: the log's own buffer is the only (bounded) queue.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // A command lost with its connection is counted as dropped, never sent twice.
      autoResendUnfulfilledCommands: false,
      commandTimeout: 5_000,
      connectTimeout: 2_000,
      retryStrategy: (times) => Math.min(100 * times, 2_000),
    });
    // Without an 'error' listener ioredis prints every failed reconnect; the log reports state changes.
    this.redis.on('error', (err: Error) => onError(err.message));
  }

  get available(): boolean {
    return this.redis.status === 'ready';
  }

  async write(records: readonly PredictionRecord[]): Promise<number> {
    const pipeline = this.redis.pipeline();
    for (const record of records) {
      pipeline.xadd(this.stream, 'MAXLEN', '~', this.maxRecords, '*', 'id', record.id, 'record', JSON.stringify(record));
    }
    const results = (await pipeline.exec()) ?? [];
    let stored = 0;
    let firstError: Error | null = null;
    for (const [err] of results) {
      if (err) firstError ??= err;
      else stored++;
    }
    if (stored === 0 && records.length > 0) throw firstError ?? new Error('no reply from Redis');
    return stored;
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
