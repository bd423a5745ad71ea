/**
 * Reads the bodies and attributes of an `ExportLogsServiceRequest` with their wire types kept: an int
 * is `{ int: bigint }`, a double `{ double: number }`, so a test can tell `1` from `1.0` and check that
 * big integers arrived exact (the general decoder in otlp_decode.ts turns both into numbers).
 *
 * @module
 */

/** An AnyValue with its wire type. */
export type TypedValue =
  | string
  | boolean
  | null
  | { int: bigint }
  | { double: number }
  | TypedValue[]
  | { kvlist: Record<string, TypedValue> };

/** One record's typed body and attributes. */
export interface TypedRecord {
  body: TypedValue | undefined;
  attributes: Record<string, TypedValue>;
}

class Reader {
  constructor(readonly buf: Uint8Array, public pos = 0, readonly end = buf.length) {}

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
    throw new Error("Malformed protobuf: varint too long");
  }

  sub(): Reader {
    const length = Number(this.varint());
    const start = this.pos;
    this.pos += length;
    return new Reader(this.buf, start, start + length);
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.sub();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`Malformed protobuf: wire type ${wire}`);
  }

  fields(visit: (field: number, wire: number) => boolean): void {
    while (this.pos < this.end) {
      const tag = Number(this.varint());
      if (!visit(tag >>> 3, tag & 7)) this.skip(tag & 7);
    }
  }
}

function anyValue(r: Reader): TypedValue {
  let value: TypedValue = null;
  r.fields((field, wire) => {
    if (field === 1 && wire === 2) {
      const s = r.sub();
      value = new TextDecoder().decode(s.buf.subarray(s.pos, s.end));
    } else if (field === 2 && wire === 0) value = r.varint() !== 0n;
    else if (field === 3 && wire === 0) value = { int: BigInt.asIntN(64, r.varint()) };
    else if (field === 4 && wire === 1) {
      value = { double: new DataView(r.buf.buffer, r.buf.byteOffset + r.pos, 8).getFloat64(0, true) };
      r.pos += 8;
    } else if (field === 5 && wire === 2) {
      const items: TypedValue[] = [];
      const a = r.sub();
      a.fields((f, w) => f === 1 && w === 2 ? (items.push(anyValue(a.sub())), true) : false);
      value = items;
    } else if (field === 6 && wire === 2) {
      const entries: Record<string, TypedValue> = {};
      const list = r.sub();
      list.fields((f, w) => f === 1 && w === 2 ? (keyValueInto(list.sub(), entries), true) : false);
      value = { kvlist: entries };
    } else return false;
    return true;
  });
  return value;
}

function keyValueInto(kv: Reader, out: Record<string, TypedValue>): void {
  let key = "";
  let value: TypedValue = null;
  kv.fields((f, w) => {
    if (f === 1 && w === 2) {
      const s = kv.sub();
      key = new TextDecoder().decode(s.buf.subarray(s.pos, s.end));
    } else if (f === 2 && w === 2) value = anyValue(kv.sub());
    else return false;
    return true;
  });
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Every record of the request (resource_logs 1 > scope_logs 2 > log_records 2), typed. */
export function decodeTypedRecords(bytes: Uint8Array): TypedRecord[] {
  const out: TypedRecord[] = [];
  const top = new Reader(bytes);
  top.fields((field, wire) => {
    if (field !== 1 || wire !== 2) return false;
    const rl = top.sub();
    rl.fields((f, w) => {
      if (f !== 2 || w !== 2) return false;
      const sl = rl.sub();
      sl.fields((sf, sw) => {
        if (sf !== 2 || sw !== 2) return false;
        const lr = sl.sub();
        const record: TypedRecord = { body: undefined, attributes: {} };
        lr.fields((lf, lw) => {
          if (lf === 5 && lw === 2) record.body = anyValue(lr.sub());
          else if (lf === 6 && lw === 2) keyValueInto(lr.sub(), record.attributes);
          else return false;
          return true;
        });
        out.push(record);
        return true;
      });
      return true;
    });
    return true;
  });
  return out;
}
