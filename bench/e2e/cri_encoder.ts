/**
 * CRI line encoding for the generated trees: `<RFC3339Nano> <stream> <P|F> <body>\n`, timestamps written
 * like containerd writes them.
 *
 * @module
 */

import type { Stream } from "../../src/record.ts";
import type { Emission, GeneratedRecord } from "./generator.ts";

const ENCODER = new TextEncoder();

/**
 * Formats a timestamp as Go's RFC3339Nano in UTC, as containerd writes it: trailing zeros of the
 * fraction are trimmed, and a whole second has no fraction at all.
 *
 * @example
 * ```ts
 * formatCriTime(1714564800, 120000000); // "2024-05-01T12:00:00.12Z"
 * ```
 */
export function formatCriTime(epochSec: number, nanos: number): string {
  const head = new Date(epochSec * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${head}Z`;
  return `${head}.${String(nanos).padStart(9, "0").replace(/0+$/, "")}Z`;
}

/** Receives each record with the time of its first piece, as the agent must report it. */
export type OnRecord = (record: GeneratedRecord, timeNs: number) => void;

/**
 * Encodes emissions as CRI lines (`<time> <stream> <P|F> <body>\n`) into one growing, reused buffer.
 * Times are nanoseconds since `baseEpochSec`; the caller supplies them, strictly increasing per file.
 */
export class CriEncoder {
  #baseEpochSec: number;
  #buffer: Uint8Array;
  #length = 0;
  #lines = 0;
  #cachedSec = -1;
  #cachedHead = "";

  constructor(baseEpochSec: number, capacityBytes = 1 << 20) {
    this.#baseEpochSec = baseEpochSec;
    this.#buffer = new Uint8Array(capacityBytes);
  }

  /** Bytes encoded since the last {@linkcode clear}. */
  get length(): number {
    return this.#length;
  }

  /** CRI lines encoded since construction. */
  get lines(): number {
    return this.#lines;
  }

  /** A view of the encoded bytes; valid until the next `append` or `clear`. */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  /** Forgets the encoded bytes (the buffer is reused). */
  clear(): void {
    this.#length = 0;
  }

  /** Appends every piece of `emission`, each stamped with `nextTimeNs()`; reports each record once. */
  append(emission: Emission, nextTimeNs: () => number, onRecord: OnRecord): void {
    const reported = new Uint8Array(emission.records.length);
    for (const piece of emission.pieces) {
      const timeNs = nextTimeNs();
      const record = emission.records[piece.record];
      if (reported[piece.record] === 0) {
        reported[piece.record] = 1;
        onRecord(record, timeNs);
      }
      this.#appendLine(timeNs, record.stream, piece.isPartial, piece.bytes);
    }
  }

  #appendLine(timeNs: number, stream: Stream, isPartial: boolean, body: Uint8Array): void {
    const sec = Math.floor(timeNs / 1e9);
    if (sec !== this.#cachedSec) {
      this.#cachedSec = sec;
      this.#cachedHead = formatCriTime(this.#baseEpochSec + sec, 0).slice(0, 19);
    }
    const nanos = timeNs - sec * 1e9;
    const fraction = nanos === 0 ? "" : `.${String(nanos).padStart(9, "0").replace(/0+$/, "")}`;
    const head = `${this.#cachedHead}${fraction}Z ${stream} ${isPartial ? "P" : "F"} `;
    this.#reserve(head.length + body.length + 1);
    const written = ENCODER.encodeInto(head, this.#buffer.subarray(this.#length)).written;
    this.#length += written;
    this.#buffer.set(body, this.#length);
    this.#length += body.length;
    this.#buffer[this.#length++] = 0x0a;
    this.#lines++;
  }

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return;
    const bigger = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + bytes));
    bigger.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = bigger;
  }
}
