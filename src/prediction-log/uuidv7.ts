import { randomFillSync } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562 section 5.7): 48-bit Unix milliseconds, version 7, a 12-bit sequence in rand_a
 * (RFC 9562 section 6.2, method 1) so that ids minted within one millisecond by one process still sort
 * in minting order, the variant, and 62 random bits that keep ids of different processes and replicas
 * apart. No dependency: it is a dozen lines, and the `uuid` package draws 16 random bytes per id where
 * this draws 8 from a pool filled 512 ids at a time (one getrandom call instead of 512).
 */
const POOL_IDS = 512;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Random bytes handed out one at a time from a buffer refilled (`fill`: one getrandom call) when spent. */
export class RandomPool {
  readonly size = POOL_IDS * 8;
  private readonly pool = Buffer.allocUnsafe(this.size);
  private at = this.size;

  constructor(private readonly fill: (buffer: Buffer) => unknown = randomFillSync) {}

  readonly byte = (): number => {
    if (this.at === this.pool.length) {
      this.fill(this.pool);
      this.at = 0;
    }
    return this.pool[this.at++];
  };
}

const randomByte = new RandomPool().byte;

/**
 * Mints ids in order. One per process (`uuidv7`); tests make their own with a clock they control,
 * so a clock set in the future does not hold back the process's ids.
 */
export class UuidV7Generator {
  private lastMs = -1;
  private seq = 0;

  /** `random` gives one random byte per call (tests pin it; the default draws from the shared pool). */
  constructor(
    private readonly clock: () => number = Date.now,
    private readonly random: () => number = randomByte,
  ) {}

  /** A new UUIDv7 string, later (in string order) than every id this generator minted before. */
  next(): string {
    let ms = this.clock();
    if (ms > this.lastMs) {
      this.lastMs = ms;
      // Start each millisecond at a random point of the first 256 (one random byte), leaving 3,840+ to count up.
      this.seq = this.random() & 0x7ff;
    } else {
      // Same millisecond, or the clock stepped back: keep counting on the last timestamp so order holds.
      ms = this.lastMs;
      if (++this.seq > 0xfff) {
        // 3,840+ ids in one millisecond: borrow the next one rather than repeat or reorder.
        ms = ++this.lastMs;
        this.seq = this.random() & 0x7ff;
      }
    }
    const seq = this.seq;
    const hi = Math.floor(ms / 0x1000000); // upper 24 bits of the 48-bit timestamp
    const lo = ms % 0x1000000;
    return (
      HEX[(hi >>> 16) & 0xff] +
      HEX[(hi >>> 8) & 0xff] +
      HEX[hi & 0xff] +
      HEX[(lo >>> 16) & 0xff] +
      '-' +
      HEX[(lo >>> 8) & 0xff] +
      HEX[lo & 0xff] +
      '-' +
      HEX[0x70 | (seq >>> 8)] +
      HEX[seq & 0xff] +
      '-' +
      HEX[0x80 | (this.random() & 0x3f)] +
      HEX[this.random()] +
      '-' +
      HEX[this.random()] +
      HEX[this.random()] +
      HEX[this.random()] +
      HEX[this.random()] +
      HEX[this.random()] +
      HEX[this.random()]
    );
  }
}

const processIds = new UuidV7Generator();

/** A new UUIDv7 from the process's generator. */
export function uuidv7(): string {
  return processIds.next();
}

/** The millisecond timestamp a UUIDv7 carries. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
