/**
 * A small hand-written protobuf decoder for OTLP `ExportMetricsServiceRequest` (opentelemetry-proto
 * metrics/v1): gauges, sums and explicit-bucket histograms with their attributes, for test sinks.
 * Unknown fields are skipped by wire type.
 *
 * @module
 */

/** One decoded data point. Times are nanoseconds since the epoch. */
export interface DecodedPoint {
  attributes: Record<string, unknown>;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  /** Number points: `as_double` or `as_int`. */
  value?: number;
  /** Histogram points. */
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
}

/** One decoded metric. */
export interface DecodedMetric {
  name: string;
  description: string;
  unit: string;
  kind: "gauge" | "sum" | "histogram" | "other";
  /** AggregationTemporality of sums and histograms (1 delta, 2 cumulative); 0 for gauges. */
  temporality: number;
  points: DecodedPoint[];
}

/** One ResourceMetrics, its scopes flattened. */
export interface DecodedResourceMetrics {
  resource: Record<string, unknown>;
  scopeName: string;
  metrics: DecodedMetric[];
}

class Reader {
  constructor(readonly buf: Uint8Array, public pos = 0, readonly end = buf.length) {}

  get isAtEnd(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new Error(`Malformed OTLP metrics: truncated varint at ${this.pos}`);
      const byte = this.buf[this.pos++];
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
    }
    throw new Error("Malformed OTLP metrics: varint too long");
  }

  fixed64(): bigint {
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return view.getBigUint64(0, true);
  }

  double(): number {
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return view.getFloat64(0, true);
  }

  sub(): Reader {
    const length = this.varint();
    const start = this.pos;
    if (start + length > this.end) throw new Error(`Malformed OTLP metrics: length ${length} past the end`);
    this.pos += length;
    return new Reader(this.buf, start, start + length);
  }

  string(): string {
    const r = this.sub();
    return new TextDecoder("utf-8", { fatal: true }).decode(this.buf.subarray(r.pos, r.end));
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.sub();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`Malformed OTLP metrics: wire type ${wireType}`);
  }
}

function forEachField(r: Reader, visit: (field: number, wireType: number) => boolean): void {
  while (!r.isAtEnd) {
    const tag = r.varint();
    if (!visit(Math.floor(tag / 8), tag % 8)) r.skip(tag % 8);
  }
}

function anyValue(r: Reader): unknown {
  let value: unknown = null;
  forEachField(r, (field, wire) => {
    if (field === 1 && wire === 2) value = r.string();
    else if (field === 2 && wire === 0) value = r.varint() !== 0;
    else if (field === 3 && wire === 0) value = r.varint();
    else if (field === 4 && wire === 1) value = r.double();
    else return false;
    return true;
  });
  return value;
}

function keyValueInto(r: Reader, out: Record<string, unknown>): void {
  let key = "";
  let value: unknown = null;
  forEachField(r, (field, wire) => {
    if (field === 1 && wire === 2) key = r.string();
    else if (field === 2 && wire === 2) value = anyValue(r.sub());
    else return false;
    return true;
  });
  out[key] = value;
}

function packed<T>(r: Reader, read: (r: Reader) => T): T[] {
  const sub = r.sub();
  const out: T[] = [];
  while (!sub.isAtEnd) out.push(read(sub));
  return out;
}

function numberPoint(r: Reader): DecodedPoint {
  const p: DecodedPoint = { attributes: {}, startTimeUnixNano: 0n, timeUnixNano: 0n };
  forEachField(r, (field, wire) => {
    if (field === 7 && wire === 2) keyValueInto(r.sub(), p.attributes);
    else if (field === 2 && wire === 1) p.startTimeUnixNano = r.fixed64();
    else if (field === 3 && wire === 1) p.timeUnixNano = r.fixed64();
    else if (field === 4 && wire === 1) p.value = r.double();
    else if (field === 6 && wire === 1) p.value = Number(BigInt.asIntN(64, r.fixed64()));
    else return false;
    return true;
  });
  return p;
}

function histogramPoint(r: Reader): DecodedPoint {
  const p: DecodedPoint = {
    attributes: {},
    startTimeUnixNano: 0n,
    timeUnixNano: 0n,
    bucketCounts: [],
    explicitBounds: [],
  };
  forEachField(r, (field, wire) => {
    if (field === 9 && wire === 2) keyValueInto(r.sub(), p.attributes);
    else if (field === 2 && wire === 1) p.startTimeUnixNano = r.fixed64();
    else if (field === 3 && wire === 1) p.timeUnixNano = r.fixed64();
    else if (field === 4 && wire === 1) p.count = Number(r.fixed64());
    else if (field === 5 && wire === 1) p.sum = r.double();
    else if (field === 6 && wire === 2) p.bucketCounts = packed(r, (s) => Number(s.fixed64()));
    else if (field === 7 && wire === 2) p.explicitBounds = packed(r, (s) => s.double());
    else return false;
    return true;
  });
  return p;
}

/** Gauge / Sum / Histogram body: points (field 1) and temporality (field 2). */
function pointsOf(r: Reader, metric: DecodedMetric, read: (r: Reader) => DecodedPoint): void {
  forEachField(r, (field, wire) => {
    if (field === 1 && wire === 2) metric.points.push(read(r.sub()));
    else if (field === 2 && wire === 0) metric.temporality = r.varint();
    else return false;
    return true;
  });
}

function metricOf(r: Reader): DecodedMetric {
  const m: DecodedMetric = { name: "", description: "", unit: "", kind: "other", temporality: 0, points: [] };
  forEachField(r, (field, wire) => {
    if (field === 1 && wire === 2) m.name = r.string();
    else if (field === 2 && wire === 2) m.description = r.string();
    else if (field === 3 && wire === 2) m.unit = r.string();
    else if (field === 5 && wire === 2) {
      m.kind = "gauge";
      pointsOf(r.sub(), m, numberPoint);
    } else if (field === 7 && wire === 2) {
      m.kind = "sum";
      pointsOf(r.sub(), m, numberPoint);
    } else if (field === 9 && wire === 2) {
      m.kind = "histogram";
      pointsOf(r.sub(), m, histogramPoint);
    } else return false;
    return true;
  });
  return m;
}

function resourceMetricsOf(r: Reader): DecodedResourceMetrics {
  const rm: DecodedResourceMetrics = { resource: {}, scopeName: "", metrics: [] };
  forEachField(r, (field, wire) => {
    if (field === 1 && wire === 2) {
      // Resource { repeated KeyValue attributes = 1 }
      const resource = r.sub();
      forEachField(
        resource,
        (f, w) => f === 1 && w === 2 ? (keyValueInto(resource.sub(), rm.resource), true) : false,
      );
    } else if (field === 2 && wire === 2) {
      // ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2 }
      const scope = r.sub();
      forEachField(scope, (f, w) => {
        if (f === 1 && w === 2) {
          const s = scope.sub();
          forEachField(s, (nf, nw) => nf === 1 && nw === 2 ? ((rm.scopeName = s.string()), true) : false);
        } else if (f === 2 && w === 2) rm.metrics.push(metricOf(scope.sub()));
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return rm;
}

/**
 * Decodes an `ExportMetricsServiceRequest` (already gunzipped).
 * @throws {Error} "Malformed OTLP metrics: ..." when the bytes are not a valid request.
 */
export function decodeMetricsRequest(bytes: Uint8Array): DecodedResourceMetrics[] {
  const out: DecodedResourceMetrics[] = [];
  const r = new Reader(bytes);
  forEachField(
    r,
    (field, wire) => field === 1 && wire === 2 ? (out.push(resourceMetricsOf(r.sub())), true) : false,
  );
  return out;
}
