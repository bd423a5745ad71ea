/**
 * Well-known keys of JSON log bodies: level words and numbers -> OTel severity, and timestamps (RFC 3339
 * text or epoch numbers) -> record time. Pure; private to extract/.
 *
 * @module
 */

import type { HrTime } from "../record.ts";

/** An OTel severity: the number (1..24) and the text as the log wrote it. */
export interface Severity {
  readonly severityNumber: number;
  readonly severityText: string;
}

// OTel SeverityNumber: TRACE 1, DEBUG 5, INFO 9, INFO2 10, WARN 13, ERROR 17, FATAL 21..24.
const LEVEL_WORDS: ReadonlyMap<string, number> = new Map([
  ["trace", 1],
  ["debug", 5],
  ["dbg", 5],
  ["d", 5], // glog / klog single letters: D I W E F
  ["info", 9],
  ["information", 9],
  ["informational", 9], // syslog
  ["i", 9],
  ["notice", 10], // syslog
  ["warn", 13],
  ["warning", 13], // Python, syslog, glog
  ["w", 13],
  ["error", 17],
  ["err", 17], // syslog
  ["e", 17],
  ["fatal", 21],
  ["f", 21],
  ["critical", 21], // Python CRITICAL
  ["crit", 21], // syslog
  ["dpanic", 21], // Go zap
  ["alert", 22], // syslog
  ["panic", 23], // Go zap, logrus
  ["emerg", 24], // syslog
  ["emergency", 24],
]);

// Numeric levels: syslog severities 0..7, and pino / bunyan levels 10..60.
const LEVEL_NUMBERS: ReadonlyMap<number, number> = new Map([
  [0, 24],
  [1, 22],
  [2, 21],
  [3, 17],
  [4, 13],
  [5, 10],
  [6, 9],
  [7, 5],
  [10, 1],
  [20, 5],
  [30, 9],
  [40, 13],
  [50, 17],
  [60, 21],
]);

/**
 * The severity a `level` / `severity` / `lvl` value names, or null when it names none. Words are
 * matched case-insensitively (Python, Go slog / zap / logrus, glog letters, syslog names); numbers are
 * syslog severities (0..7) or pino / bunyan levels (10..60).
 *
 * @example
 * ```ts
 * severityOf("WARNING"); // { severityNumber: 13, severityText: "WARNING" }
 * severityOf(30); // { severityNumber: 9, severityText: "30" }
 * ```
 */
export function severityOf(value: unknown): Severity | null {
  if (typeof value === "string") {
    // Most loggers write lowercase: look that up before paying for toLowerCase.
    const n = value.length > 16 ? undefined : LEVEL_WORDS.get(value) ?? LEVEL_WORDS.get(value.toLowerCase());
    return n === undefined ? null : { severityNumber: n, severityText: value };
  }
  if (typeof value === "number") {
    const n = LEVEL_NUMBERS.get(value);
    return n === undefined ? null : { severityNumber: n, severityText: String(value) };
  }
  return null;
}

// Epoch magnitudes are told apart by the plausible range 2000-01-01 .. 2200-01-01 in each unit, which
// do not overlap; anything outside (e.g. mmengine's `"time": 0.34`, an iteration time) is not a time.
const MIN_EPOCH_S = 946_684_800;
const MAX_EPOCH_S = 7_258_118_400;
const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * The record time a `time` / `ts` / `timestamp` value gives, or null. Strings must be RFC 3339 with a
 * zone (nanoseconds kept exactly); numbers are epoch seconds, milliseconds, microseconds or
 * nanoseconds told apart by magnitude within 2000..2200. Fractional seconds keep microseconds.
 *
 * @example
 * ```ts
 * timeOf("2026-12-04T21:00:00.123456789Z"); // [1796418000, 123456789]
 * timeOf(1796418000123); // milliseconds: [1796418000, 123000000]
 * ```
 */
export function timeOf(value: unknown): HrTime | null {
  if (typeof value === "string") return value.length <= 40 ? parseRfc3339(value) : null;
  if (typeof value === "bigint") return epochBigint(value);
  if (typeof value === "number") return epochNumber(value);
  if (value instanceof Float64Array && value.length === 1) return epochNumber(value[0]);
  return null;
}

function parseRfc3339(text: string): HrTime | null {
  const m = RFC3339_RE.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  const second = Math.min(Number(m[6]), 59); // a leap second 60 is kept as 59
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || Number(m[6]) > 60) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(ms).getUTCDate() !== day) return null; // 2026-02-30
  let offsetS = 0;
  if (m[8] === undefined) {
    const offsetH = Number(m[10]);
    const offsetM = Number(m[11]);
    if (offsetH > 23 || offsetM > 59) return null;
    offsetS = (offsetH * 3600 + offsetM * 60) * (m[9] === "-" ? -1 : 1);
  }
  const nanos = m[7] === undefined ? 0 : Number(m[7].padEnd(9, "0"));
  return [ms / 1000 - offsetS, nanos];
}

function epochNumber(value: number): HrTime | null {
  if (!Number.isFinite(value) || value < MIN_EPOCH_S) return null;
  for (const [scale, nanosPerUnit] of SCALES) {
    if (value >= MIN_EPOCH_S * scale && value < MAX_EPOCH_S * scale) {
      const seconds = Math.floor(value / scale);
      const rest = value - seconds * scale;
      // A double holds about 16 digits, so below seconds we keep microseconds and round there.
      const micros = Math.min(Math.round((rest * nanosPerUnit) / 1000), 999_999);
      return [seconds, micros * 1000];
    }
  }
  return null;
}

const SCALES: ReadonlyArray<readonly [scale: number, nanosPerUnit: number]> = [
  [1, 1e9],
  [1e3, 1e6],
  [1e6, 1e3],
  [1e9, 1],
];

function epochBigint(value: bigint): HrTime | null {
  // Integers beyond 2^53 only come in nanoseconds (2000..2200 in ns is 9.5e17..7.3e18).
  if (value < BigInt(MIN_EPOCH_S) * 1_000_000_000n || value >= BigInt(MAX_EPOCH_S) * 1_000_000_000n) {
    return null;
  }
  return [Number(value / 1_000_000_000n), Number(value % 1_000_000_000n)];
}
