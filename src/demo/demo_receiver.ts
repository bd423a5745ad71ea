/**
 * The demo's loopback OTLP/HTTP receiver: decodes `/v1/logs` (records with resource, body, attributes,
 * severity and event name) and `/v1/metrics` (metric names and points), answers 200, and keeps what it
 * decoded for the live summary. Deliberately small: the test suite has its own fuller fake sink with
 * failure injection (tests/_fakes), which the demo must not depend on.
 *
 * @module
 */

import { zstdDecompressSync } from "node:zlib";

/** One decoded log record with its resource attributes. */
export interface DemoRecord {
  resource: Record<string, unknown>;
  body: unknown;
  attributes: Record<string, unknown>;
  severityText: string;
  eventName: string;
}

/** One decoded metric point: metric name, attributes, and a number (gauges) or count/sum (histograms). */
export interface DemoPoint {
  metric: string;
  attributes: Record<string, unknown>;
  value: number | null;
  count: number | null;
  sum: number | null;
}

class Reader {
  constructor(readonly buf: Uint8Array, public pos = 0, readonly end = buf.length) {}

  get isAtEnd(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      const byte = this.buf[this.pos++];
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
    }
    throw new Error("Malformed protobuf: varint too long");
  }

  double(): number {
    const value = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return value;
  }

  fixed64(): number {
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return Number(view.getBigUint64(0, true));
  }

  sub(): Reader {
    const length = this.varint();
    const start = this.pos;
    this.pos += length;
    if (this.pos > this.end) throw new Error("Malformed protobuf: length past the end");
    return new Reader(this.buf, start, start + length);
  }

  string(): string {
    const r = this.sub();
    return new TextDecoder().decode(this.buf.subarray(r.pos, r.end));
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.sub();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`Malformed protobuf: wire type ${wireType}`);
  }

  /** Calls `visit` per field; a field `visit` does not consume (returns false) is skipped. */
  fields(visit: (field: number, wireType: number) => boolean): void {
    while (!this.isAtEnd) {
      const tag = this.varint();
      if (!visit(Math.floor(tag / 8), tag % 8)) this.skip(tag % 8);
    }
  }
}

function anyValue(r: Reader): unknown {
  let value: unknown = null;
  r.fields((field, wire) => {
    if (field === 1 && wire === 2) value = r.string();
    else if (field === 2 && wire === 0) value = r.varint() !== 0;
    else if (field === 3 && wire === 0) value = r.varint();
    else if (field === 4 && wire === 1) value = r.double();
    else if (field === 5 && wire === 2) {
      const items: unknown[] = [];
      const array = r.sub();
      array.fields((f, w) => f === 1 && w === 2 ? (items.push(anyValue(array.sub())), true) : false);
      value = items;
    } else if (field === 6 && wire === 2) value = keyValues(r.sub(), 1);
    else return false;
    return true;
  });
  return value;
}

/** Reads every `repeated KeyValue` of field `fieldNumber` into one object. */
function keyValues(r: Reader, fieldNumber: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  r.fields((field, wire) => field === fieldNumber && wire === 2 ? (keyValueInto(r.sub(), out), true) : false);
  return out;
}

/** KeyValue { string key = 1; AnyValue value = 2 } */
function keyValueInto(kv: Reader, out: Record<string, unknown>): void {
  let key = "";
  let value: unknown = null;
  kv.fields((f, w) => {
    if (f === 1 && w === 2) key = kv.string();
    else if (f === 2 && w === 2) value = anyValue(kv.sub());
    else return false;
    return true;
  });
  out[key] = value;
}

/** ExportLogsServiceRequest -> records (resource_logs 1 > resource 1, scope_logs 2 > log_records 2). */
export function decodeLogs(bytes: Uint8Array): DemoRecord[] {
  const records: DemoRecord[] = [];
  const top = new Reader(bytes);
  top.fields((field, wire) => {
    if (field !== 1 || wire !== 2) return false;
    const resourceLogs = top.sub();
    let resource: Record<string, unknown> = {};
    resourceLogs.fields((f, w) => {
      if (f === 1 && w === 2) resource = keyValues(resourceLogs.sub(), 1);
      else if (f === 2 && w === 2) {
        const scopeLogs = resourceLogs.sub();
        scopeLogs.fields((sf, sw) => {
          if (sf !== 2 || sw !== 2) return false;
          records.push(logRecord(scopeLogs.sub(), resource));
          return true;
        });
      } else return false;
      return true;
    });
    return true;
  });
  return records;
}

function logRecord(r: Reader, resource: Record<string, unknown>): DemoRecord {
  const record: DemoRecord = { resource, body: undefined, attributes: {}, severityText: "", eventName: "" };
  r.fields((field, wire) => {
    if (field === 3 && wire === 2) record.severityText = r.string();
    else if (field === 5 && wire === 2) record.body = anyValue(r.sub());
    else if (field === 6 && wire === 2) keyValueInto(r.sub(), record.attributes);
    else if (field === 12 && wire === 2) record.eventName = r.string();
    else return false;
    return true;
  });
  return record;
}

/** ExportMetricsServiceRequest -> points of gauges and histograms. */
export function decodeMetrics(bytes: Uint8Array): DemoPoint[] {
  const points: DemoPoint[] = [];
  const top = new Reader(bytes);
  top.fields((field, wire) => {
    if (field !== 1 || wire !== 2) return false;
    const rm = top.sub();
    rm.fields((f, w) => {
      if (f !== 2 || w !== 2) return false;
      const sm = rm.sub();
      sm.fields((sf, sw) => sf === 2 && sw === 2 ? (points.push(...metric(sm.sub())), true) : false);
      return true;
    });
    return true;
  });
  return points;
}

function metric(r: Reader): DemoPoint[] {
  let name = "";
  const points: DemoPoint[] = [];
  r.fields((field, wire) => {
    if (field === 1 && wire === 2) name = r.string();
    else if ((field === 5 || field === 9) && wire === 2) {
      const isHistogram = field === 9;
      const data = r.sub();
      data.fields((f, w) => {
        if (f !== 1 || w !== 2) return false;
        const p = data.sub();
        const point: DemoPoint = { metric: name, attributes: {}, value: null, count: null, sum: null };
        p.fields((pf, pw) => {
          if (pf === (isHistogram ? 9 : 7) && pw === 2) keyValueInto(p.sub(), point.attributes);
          else if (!isHistogram && pf === 4 && pw === 1) point.value = p.double();
          else if (isHistogram && pf === 4 && pw === 1) point.count = p.fixed64();
          else if (isHistogram && pf === 5 && pw === 1) point.sum = p.double();
          else return false;
          return true;
        });
        points.push(point);
        return true;
      });
    } else return false;
    return true;
  });
  return points;
}

/** The running receiver. */
export class DemoReceiver implements AsyncDisposable {
  readonly records: DemoRecord[] = [];
  /** The points of the latest metrics request. */
  latestMetrics: DemoPoint[] = [];
  metricsRequests = 0;
  #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => this.#handle(request),
    );
  }

  /** Base URL for `exporter.endpoint`. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  async #handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    let body = new Uint8Array(await request.arrayBuffer());
    const encoding = request.headers.get("content-encoding");
    if (encoding === "gzip") {
      const stream = new Blob([body]).stream().pipeThrough(new DecompressionStream("gzip"));
      body = new Uint8Array(await new Response(stream).arrayBuffer());
    } else if (encoding === "zstd") {
      body = new Uint8Array(zstdDecompressSync(body));
    }
    try {
      if (path === "/v1/logs") this.records.push(...decodeLogs(body));
      else if (path === "/v1/metrics") {
        this.latestMetrics = decodeMetrics(body);
        this.metricsRequests++;
      } else return new Response("not found", { status: 404 });
    } catch (thrown) {
      return new Response(`Cannot decode: ${thrown instanceof Error ? thrown.message : thrown}`, {
        status: 400,
      });
    }
    return new Response(new Uint8Array(), { headers: { "content-type": "application/x-protobuf" } });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}
