import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { until } from './wait';

/** One exported span, the same whether it came as OTLP/JSON or OTLP/protobuf. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: Array<{ traceId: string; spanId: string }>;
  status: { code: number; message: string };
  resource: Record<string, string | number | boolean>;
  /** The Content-Type the span arrived with. */
  contentType: string;
}

/**
 * A real OTLP/HTTP receiver for tests: POST /v1/traces with `application/json` or `application/x-protobuf`,
 * each decoded into ReceivedSpan. The protobuf side is decoded here from the wire format and the field
 * numbers of opentelemetry-proto's trace.proto (see decodeExportRequest), independently of the SDK's
 * encoder, which is what is under test.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly requests: Array<{ path: string; contentType: string; headers: http.IncomingHttpHeaders }> = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    const ready: { receiver?: OtlpReceiver } = {};
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const contentType = String(req.headers['content-type'] ?? '');
        const body = Buffer.concat(chunks);
        const receiver = ready.receiver!;
        receiver.requests.push({ path: req.url ?? '', contentType, headers: req.headers });
        try {
          const spans = contentType.includes('json') ? decodeJson(body) : decodeExportRequest(body);
          for (const s of spans) receiver.spans.push({ ...s, contentType });
          res.writeHead(200, { 'content-type': contentType.includes('json') ? 'application/json' : 'application/x-protobuf' });
          res.end(contentType.includes('json') ? '{}' : '');
        } catch (err) {
          res.writeHead(400).end(String(err));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ready.receiver = new OtlpReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return ready.receiver;
  }

  /** Waits until a span matches, and returns it. */
  async waitFor(match: (s: ReceivedSpan) => boolean, what: string, timeoutMs = 10_000): Promise<ReceivedSpan> {
    let found: ReceivedSpan | undefined;
    await until(what, () => (found = this.spans.find(match)) !== undefined, { timeoutMs, everyMs: 10 });
    return found!;
  }

  inTrace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

type Decoded = Omit<ReceivedSpan, 'contentType'>;
type AttrValue = string | number | boolean;

// ------------------------------------------------------------------ OTLP/JSON

interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
}
interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const { key, value } of list ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
  }
  return out;
}

function decodeJson(body: Buffer): Decoded[] {
  const request = JSON.parse(body.toString('utf8')) as {
    resourceSpans?: Array<{
      resource?: { attributes?: JsonKeyValue[] };
      scopeSpans?: Array<{
        spans?: Array<{
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind: number;
          attributes?: JsonKeyValue[];
          links?: Array<{ traceId: string; spanId: string }>;
          status?: { code?: number; message?: string };
        }>;
      }>;
    }>;
  };
  const out: Decoded[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          attributes: jsonAttributes(s.attributes),
          links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          resource,
        });
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------ OTLP/protobuf

/** Protobuf wire format: the fields of one message, by number (repeated fields keep every value). */
class Fields {
  readonly byNumber = new Map<number, Array<Buffer | number>>();

  constructor(buf: Buffer) {
    let pos = 0;
    const varint = (): number => {
      let result = 0;
      let shift = 0;
      for (;;) {
        const b = buf[pos++];
        result += (b & 0x7f) * 2 ** shift;
        if ((b & 0x80) === 0) return result;
        shift += 7;
      }
    };
    while (pos < buf.length) {
      const tag = varint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      let value: Buffer | number;
      if (wire === 0) value = varint();
      else if (wire === 1) {
        value = buf.readDoubleLE(pos); // fixed64 fields other than doubles (timestamps) are not read as numbers
        pos += 8;
      } else if (wire === 2) {
        const len = varint();
        value = buf.subarray(pos, pos + len);
        pos += len;
      } else if (wire === 5) {
        value = buf.readUInt32LE(pos);
        pos += 4;
      } else throw new Error(`unsupported wire type ${wire}`);
      const list = this.byNumber.get(field) ?? [];
      list.push(value);
      this.byNumber.set(field, list);
    }
  }

  all(n: number): Buffer[] {
    return (this.byNumber.get(n) ?? []) as Buffer[];
  }
  bytes(n: number): Buffer | undefined {
    return this.all(n)[0];
  }
  str(n: number): string {
    return this.bytes(n)?.toString('utf8') ?? '';
  }
  hex(n: number): string {
    return this.bytes(n)?.toString('hex') ?? '';
  }
  num(n: number): number {
    return (this.byNumber.get(n)?.[0] as number | undefined) ?? 0;
  }
}

/** KeyValue { 1: key, 2: AnyValue { 1: string, 2: bool, 3: int64, 4: double } } */
function protoAttributes(list: Buffer[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of list) {
    const f = new Fields(kv);
    const v = new Fields(f.bytes(2) ?? Buffer.alloc(0));
    const key = f.str(1);
    if (v.byNumber.has(1)) out[key] = v.str(1);
    else if (v.byNumber.has(2)) out[key] = v.num(2) === 1;
    else if (v.byNumber.has(3)) out[key] = v.num(3);
    else if (v.byNumber.has(4)) out[key] = v.num(4);
  }
  return out;
}

/**
 * ExportTraceServiceRequest { 1: ResourceSpans { 1: Resource { 1: attributes }, 2: ScopeSpans { 2: Span } } }
 * Span { 1: trace_id, 2: span_id, 4: parent_span_id, 5: name, 6: kind, 9: attributes, 13: links
 * (Link { 1: trace_id, 2: span_id }), 15: status (Status { 2: message, 3: code }) }
 */
export function decodeExportRequest(body: Buffer): Decoded[] {
  const out: Decoded[] = [];
  for (const rsBuf of new Fields(body).all(1)) {
    const rs = new Fields(rsBuf);
    const resource = protoAttributes(new Fields(rs.bytes(1) ?? Buffer.alloc(0)).all(1));
    for (const ssBuf of rs.all(2)) {
      for (const spanBuf of new Fields(ssBuf).all(2)) {
        const s = new Fields(spanBuf);
        const status = new Fields(s.bytes(15) ?? Buffer.alloc(0));
        out.push({
          traceId: s.hex(1),
          spanId: s.hex(2),
          parentSpanId: s.hex(4),
          name: s.str(5),
          kind: s.num(6),
          attributes: protoAttributes(s.all(9)),
          links: s.all(13).map((l) => {
            const link = new Fields(l);
            return { traceId: link.hex(1), spanId: link.hex(2) };
          }),
          status: { code: status.num(3), message: status.str(2) },
          resource,
        });
      }
    }
  }
  return out;
}
