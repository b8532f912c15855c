import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutOfRangeReading } from '../src/inference/explanation';
import type { Reading } from '../src/inference/model-io';
import { toRecord, type LoggedPrediction, type PredictionLogEntry } from '../src/prediction-log/record';
import { RandomPool, UUID_V7, uuidv7, UuidV7Generator, uuidv7Time } from '../src/prediction-log/uuidv7';
import { NORMAL_READING } from './helpers/readings';

// What a prediction id and a prediction-log record are made of: the UUIDv7 layout (RFC 9562 5.7), its order
// within a millisecond and across clock steps, and the record written for each served row. The random bytes
// are pinned through the generator's seam, so each id is compared whole with the RFC layout built here.

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** RFC 9562's UUIDv7 fields laid out independently of the generator: unix_ts_ms, ver, rand_a, var, rand_b. */
function layout(ms: number, seq: number, rand: number[]): string {
  assert.equal(rand.length, 8);
  const ts = hex(ms, 12);
  const tail = rand.map((b) => hex(b, 2)).join('');
  return `${ts.slice(0, 8)}-${ts.slice(8)}-7${hex(seq, 3)}-${hex(0x80 | (rand[0] & 0x3f), 2)}${tail.slice(2, 4)}-${tail.slice(4)}`;
}

/** A byte source counting up from `start` (mod 256); `drawn` says how many bytes were taken. */
function counter(start: number): { next: () => number; drawn: () => number } {
  let n = 0;
  return { next: () => (start + n++) & 0xff, drawn: () => n };
}

const bytesFrom = (start: number, count: number) => Array.from({ length: count }, (_, i) => (start + i) & 0xff);

/** The 12-bit rand_a counter of an id. */
const seqOf = (id: string) => parseInt(id.slice(15, 18), 16);

describe('UuidV7Generator: the layout', () => {
  it('puts the clock in the first 48 bits, version 7, a random start of the counter, the variant and 62 random bits', () => {
    const bytes = counter(0x10);
    const ids = new UuidV7Generator(() => 0x0123_4567_89ab, bytes.next);
    const id = ids.next();
    // One byte starts the millisecond's counter, eight fill the variant octet and rand_b.
    assert.equal(bytes.drawn(), 9);
    assert.equal(id, layout(0x0123_4567_89ab, 0x10, bytesFrom(0x11, 8)));
    assert.match(id, UUID_V7);
    assert.equal(uuidv7Time(id), 0x0123_4567_89ab);
  });

  it('keeps the version and variant bits whatever the random bytes are', () => {
    const high = new UuidV7Generator(
      () => 0xffff_ffff_ffff,
      () => 0xff,
    ).next();
    assert.equal(high, 'ffffffff-ffff-70ff-bfff-ffffffffffff');
    const low = new UuidV7Generator(
      () => 0,
      () => 0,
    ).next();
    assert.equal(low, '00000000-0000-7000-8000-000000000000');
    for (const id of [high, low]) assert.match(id, UUID_V7);
    assert.equal(uuidv7Time(high), 0xffff_ffff_ffff);
    assert.equal(uuidv7Time(low), 0);
  });

  it('spells every byte value as two lower-case hex digits', () => {
    // Byte i of the pinned source lands in rand_b; 256 ids cover every value in every tail position.
    for (let start = 0; start < 256; start += 8) {
      const ids = new UuidV7Generator(() => 1_700_000_000_000, counter(start).next);
      const id = ids.next();
      assert.equal(id, layout(1_700_000_000_000, start, bytesFrom(start + 1, 8)));
    }
  });

  it('splits timestamps across the 24-bit halves it formats separately', () => {
    for (const ms of [0x00_0000_ffffff, 0x00_0001_000000, 0x12_3456_abcdef, 1_733_500_000_123, 2 ** 47 + 5]) {
      const id = new UuidV7Generator(
        () => ms,
        () => 0x42,
      ).next();
      assert.equal(id, layout(ms, 0x42, Array(8).fill(0x42)));
      assert.equal(uuidv7Time(id), ms);
    }
  });
});

describe('UuidV7Generator: order', () => {
  it('counts up by one within a millisecond, drawing fresh random bits for each id', () => {
    const bytes = counter(0x30);
    const ids = new UuidV7Generator(() => 5_000, bytes.next);
    const minted = [ids.next(), ids.next(), ids.next()];
    // The counter's start is drawn once; each id draws its own eight.
    assert.equal(bytes.drawn(), 9 + 8 + 8);
    assert.deepEqual(minted, [
      layout(5_000, 0x30, bytesFrom(0x31, 8)),
      layout(5_000, 0x31, bytesFrom(0x39, 8)),
      layout(5_000, 0x32, bytesFrom(0x41, 8)),
    ]);
    assert.ok(minted[0] < minted[1] && minted[1] < minted[2]);
  });

  it('restarts the counter at a random point when the clock moves on', () => {
    let now = 7_000;
    const starts = [0xab, 0x05];
    const draws: number[] = [];
    // The first byte of each millisecond starts its counter; the rest are tail bytes (0).
    const ids = new UuidV7Generator(
      () => now,
      () => {
        draws.push(draws.length);
        return draws.length === 1 ? starts[0] : draws.length === 18 ? starts[1] : 0;
      },
    );
    const a = ids.next();
    const b = ids.next();
    now = 7_001;
    const c = ids.next();
    assert.deepEqual(
      [a, b, c].map((id) => [uuidv7Time(id), seqOf(id)]),
      [
        [7_000, 0xab],
        [7_000, 0xac],
        [7_001, 0x05],
      ],
    );
    // A later millisecond sorts after, even with a lower counter.
    assert.ok(b < c);
  });

  it('keeps the last timestamp and counts on when the clock steps back', () => {
    let now = 10_000;
    const ids = new UuidV7Generator(
      () => now,
      () => 0x20,
    );
    const first = ids.next();
    now = 9_000;
    const back = ids.next();
    now = 10_000;
    const same = ids.next();
    assert.deepEqual(
      [first, back, same].map((id) => [uuidv7Time(id), seqOf(id)]),
      [
        [10_000, 0x20],
        [10_000, 0x21],
        [10_000, 0x22],
      ],
    );
    assert.ok(first < back && back < same);
  });

  it('borrows the next millisecond when the 12-bit counter is spent, and stays on it until the clock catches up', () => {
    let now = 50_000;
    const ids = new UuidV7Generator(
      () => now,
      () => 0,
    );
    const minted = Array.from({ length: 0x1000 }, () => ids.next());
    // Counter 0 to 0xfff: every value of rand_a, in order, on the clock's millisecond.
    minted.forEach((id, i) => assert.deepEqual([uuidv7Time(id), seqOf(id)], [50_000, i]));
    const borrowed = ids.next();
    assert.deepEqual([uuidv7Time(borrowed), seqOf(borrowed)], [50_001, 0]);
    const still = ids.next();
    assert.deepEqual([uuidv7Time(still), seqOf(still)], [50_001, 1]);
    now = 50_001;
    const caughtUp = ids.next();
    assert.deepEqual([uuidv7Time(caughtUp), seqOf(caughtUp)], [50_001, 2]);
    now = 50_002;
    const next = ids.next();
    assert.deepEqual([uuidv7Time(next), seqOf(next)], [50_002, 0]);
    const all = [...minted, borrowed, still, caughtUp, next];
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1] < all[i], `${all[i - 1]} !< ${all[i]} at ${i}`);
  });
});

describe('RandomPool', () => {
  it('fills its buffer once per 512 ids of bytes and hands the bytes out in order', () => {
    const fills: number[] = [];
    const pool = new RandomPool((buffer) => {
      fills.push(buffer.length);
      for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 7 + fills.length) & 0xff;
    });
    assert.equal(pool.size, 512 * 8);
    const first = Array.from({ length: pool.size }, pool.byte);
    // Nothing is drawn before the first byte is asked for; then one fill serves the whole buffer.
    assert.deepEqual(fills, [pool.size]);
    assert.deepEqual(
      first,
      Array.from({ length: pool.size }, (_, i) => (i * 7 + 1) & 0xff),
    );
    const second = pool.byte();
    assert.deepEqual(fills, [pool.size, pool.size]);
    assert.equal(second, 2);
  });
});

describe('the process generator (random bytes from a shared pool)', () => {
  it('mints valid, distinct ids past many refills of its pool', () => {
    // 512 ids' worth of bytes per refill: 3,000 ids go through several.
    const ids = Array.from({ length: 3_000 }, () => uuidv7());
    for (const id of ids) assert.match(id, UUID_V7);
    // 62 random bits per id: equal tails would mean a pool read twice or never refilled.
    assert.equal(new Set(ids.map((id) => id.slice(19))).size, ids.length);
    const own = new UuidV7Generator(() => 1);
    const tails = new Set(Array.from({ length: 3_000 }, () => own.next().slice(19)));
    assert.equal(tails.size, 3_000);
  });

  it('starts each millisecond at a random counter in the lower half', () => {
    let now = 1;
    const ids = new UuidV7Generator(() => now++);
    const starts = Array.from({ length: 200 }, () => seqOf(ids.next()));
    for (const s of starts) assert.ok(s <= 0x7ff, `counter start ${s.toString(16)}`);
    assert.ok(new Set(starts).size > 50, 'the starts are random');
  });

  it('stamps the current time', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    assert.ok(uuidv7Time(id) >= before && uuidv7Time(id) <= after);
  });
});

describe('UUID_V7', () => {
  const valid = '01234567-89ab-7cde-8f01-23456789abcd';
  it('accepts a version 7 id with any of the four variant digits', () => {
    for (const v of '89ab') assert.match(valid.slice(0, 19) + v + valid.slice(20), UUID_V7);
  });

  it('refuses other versions, variants, cases, lengths and characters', () => {
    const bad = [
      valid.replace('-7', '-4'),
      valid.slice(0, 19) + 'c' + valid.slice(20),
      valid.slice(0, 19) + '7' + valid.slice(20),
      valid.toUpperCase(),
      `x${valid}`,
      `${valid}x`,
      `${valid}\n`,
      valid.replace(/-/g, ''),
      // one character short or long, and a non-hex character, in each group
      '0123456-89ab-7cde-8f01-23456789abcd',
      '012345678-89ab-7cde-8f01-23456789abcd',
      '0123456g-89ab-7cde-8f01-23456789abcd',
      '01234567-89a-7cde-8f01-23456789abcd',
      '01234567-89abc-7cde-8f01-23456789abcd',
      '01234567-89ag-7cde-8f01-23456789abcd',
      '01234567-89ab-7cd-8f01-23456789abcd',
      '01234567-89ab-7cdef-8f01-23456789abcd',
      '01234567-89ab-7cdg-8f01-23456789abcd',
      '01234567-89ab-7cde-8f0-23456789abcd',
      '01234567-89ab-7cde-8f012-23456789abcd',
      '01234567-89ab-7cde-8f0g-23456789abcd',
      '01234567-89ab-7cde-8f01-23456789abc',
      '01234567-89ab-7cde-8f01-23456789abcde',
      '01234567-89ab-7cde-8f01-23456789abcg',
      '01234567-89ab-7cde-8f01-g3456789abcd',
    ];
    for (const id of bad) assert.doesNotMatch(id, UUID_V7, id);
  });
});

describe('toRecord: one log record per served row', () => {
  const ID = layout(Date.UTC(2026, 11, 6, 15, 30, 45, 123), 0x123, bytesFrom(0x40, 8));
  const PROBABILITIES = [
    { failureType: 'NO_FAILURE', probability: 0.5 },
    { failureType: 'HEAT_DISSIPATION_FAILURE', probability: 0.25 },
    { failureType: 'POWER_FAILURE', probability: 0.125 },
    { failureType: 'OVERSTRAIN_FAILURE', probability: 0.0625 },
    { failureType: 'TOOL_WEAR_FAILURE', probability: 0.03125 },
    { failureType: 'RANDOM_FAILURES', probability: 0.03125 },
  ];

  function row(over: Partial<LoggedPrediction> = {}): LoggedPrediction {
    return {
      id: ID,
      reading: { ...NORMAL_READING },
      predictedFailureType: 'HEAT_DISSIPATION_FAILURE',
      probabilities: PROBABILITIES,
      reconstructionError: 0.75,
      isAnomaly: true,
      modelVersion: 'model-7',
      ...over,
    };
  }

  function entry(over: Partial<PredictionLogEntry> = {}): PredictionLogEntry & { seen: Reading[] } {
    const seen: Reading[] = [];
    return {
      requestId: 'req-42',
      role: 'primary',
      rows: [],
      outOfRange: (reading) => {
        seen.push(reading);
        return [];
      },
      seen,
      ...over,
    };
  }

  it('maps every field, with the time read from the id', () => {
    const e = entry();
    const r = row();
    const record = toRecord(e, r);
    assert.deepEqual(record, {
      id: ID,
      time: '2026-12-06T15:30:45.123Z',
      requestId: 'req-42',
      role: 'primary',
      modelVersion: 'model-7',
      reading: NORMAL_READING,
      predictedFailureType: 'HEAT_DISSIPATION_FAILURE',
      probabilities: {
        NO_FAILURE: 0.5,
        HEAT_DISSIPATION_FAILURE: 0.25,
        POWER_FAILURE: 0.125,
        OVERSTRAIN_FAILURE: 0.0625,
        TOOL_WEAR_FAILURE: 0.03125,
        RANDOM_FAILURES: 0.03125,
      },
      reconstructionError: 0.75,
      isAnomaly: true,
      outOfRange: [],
    });
    assert.ok(!('traceId' in record), 'no traceId key when the request was not traced');
    // The range check ran on this row's reading.
    assert.deepEqual(e.seen, [r.reading]);
  });

  it("keeps the shadow role, the row's own model version, the trace id and the out-of-range fields", () => {
    const hot = { ...NORMAL_READING, airTemperature: 310, processTemperature: 318 };
    const ranges: OutOfRangeReading[] = [
      { field: 'airTemperature', value: 310, trainingMin: 295, trainingMax: 305 },
      { field: 'processTemperature', value: 318, trainingMin: 305, trainingMax: 314 },
    ];
    const e = entry({ role: 'shadow', traceId: '0af7651916cd43dd8448eb211c80319c', outOfRange: () => ranges });
    const record = toRecord(e, row({ reading: hot, modelVersion: 'shadow-2', isAnomaly: false, predictedFailureType: 'NO_FAILURE' }));
    assert.equal(record.role, 'shadow');
    assert.equal(record.modelVersion, 'shadow-2');
    assert.equal(record.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.deepEqual(record.outOfRange, ['airTemperature', 'processTemperature']);
    assert.deepEqual(record.reading, hot);
    assert.equal(record.isAnomaly, false);
    assert.equal(record.predictedFailureType, 'NO_FAILURE');
    // An empty trace id is still a trace id the caller chose to record.
    assert.equal(toRecord(entry({ traceId: '' }), row()).traceId, '');
  });

  it('writes only the six reading fields, whatever else the reading object carries', () => {
    const reading = { ...NORMAL_READING, apiKey: 'secret', clientIp: '203.0.113.9' } as Reading;
    const r = { ...row({ reading }), apiKey: 'secret' } as LoggedPrediction;
    const record = toRecord(entry(), r);
    assert.deepEqual(record.reading, NORMAL_READING);
    assert.doesNotMatch(JSON.stringify(record), /secret|203\.0\.113/);
    assert.deepEqual(Object.keys(record), [
      'id',
      'time',
      'requestId',
      'role',
      'modelVersion',
      'reading',
      'predictedFailureType',
      'probabilities',
      'reconstructionError',
      'isAnomaly',
      'outOfRange',
    ]);
  });

  it('keys probabilities by failure type, not by position', () => {
    const reversed = [...PROBABILITIES].reverse();
    const record = toRecord(entry(), row({ probabilities: reversed }));
    for (const p of PROBABILITIES) assert.equal(record.probabilities[p.failureType], p.probability);
    assert.equal(Object.keys(record.probabilities).length, 6);
  });
});
