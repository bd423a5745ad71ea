/**
 * Parsers and formatters for the two quantity notations of the config file: durations (`1m30s`) and
 * sizes (`16KiB`). Pure: no I/O.
 *
 * @module
 */

/** Why a duration was rejected. */
export type DurationFailure =
  | "empty"
  | "bad_syntax"
  | "negative"
  | "fraction"
  | "missing_unit"
  | "unknown_unit"
  | "bad_order"
  | "too_large";

/** Why a size was rejected. */
export type SizeFailure = "empty" | "bad_syntax" | "negative" | "fraction" | "unknown_unit" | "too_large";

/** The result of {@linkcode parseDuration}: milliseconds, or why not. */
export type DurationResult =
  | { ok: true; value: number }
  | { ok: false; reason: DurationFailure; detail: string };

/** The result of {@linkcode parseSize}: bytes, or why not. */
export type SizeResult =
  | { ok: true; value: number }
  | { ok: false; reason: SizeFailure; detail: string };

const DURATION_UNITS_MS: ReadonlyMap<string, number> = new Map([
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1],
]);
const DURATION_UNIT_LIST = "h, m, s, ms";

const SIZE_UNITS_BYTES: ReadonlyMap<string, number> = new Map([
  ["B", 1],
  ["KB", 1e3],
  ["MB", 1e6],
  ["GB", 1e9],
  ["TB", 1e12],
  ["KiB", 2 ** 10],
  ["MiB", 2 ** 20],
  ["GiB", 2 ** 30],
  ["TiB", 2 ** 40],
]);
const SIZE_UNIT_LIST = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB";

// Longer digit runs exceed 2^53 anyway. Shorter ones convert exactly or round to at least 2^53, and a
// product or sum of exact integers that stays below 2^53 is exact, so the isSafeInteger checks below
// are enough to keep the arithmetic exact.
const MAX_DIGITS = 16;
const DURATION_TOKEN_RE = /(\d+)([a-zA-Zµ]*)/y;

/**
 * Parses a duration into milliseconds: one or more `<integer><unit>` parts with units `h`, `m`, `s`,
 * `ms` in decreasing order (`250ms`, `2s`, `1m30s`), or the bare integer `0`.
 *
 * @example
 * ```ts
 * parseDuration("1m30s"); // { ok: true, value: 90000 }
 * parseDuration(0); // { ok: true, value: 0 }
 * parseDuration("1.5s"); // { ok: false, reason: "fraction", ... }
 * ```
 */
export function parseDuration(input: string | number): DurationResult {
  if (typeof input === "number") return parseBareDuration(input);
  const text = input.trim();
  if (text === "") return durationFailure("empty", "empty value");
  if (text.startsWith("-")) return durationFailure("negative", "durations cannot be negative");
  if (/^\d+$/.test(text)) return parseBareDuration(Number(text));
  if (/\d\.\d|^\.\d/.test(text)) {
    return durationFailure("fraction", "fractions are not supported, use a smaller unit (1500ms, not 1.5s)");
  }
  let totalMs = 0;
  let lastUnitMs = Infinity;
  DURATION_TOKEN_RE.lastIndex = 0;
  while (DURATION_TOKEN_RE.lastIndex < text.length) {
    const at = DURATION_TOKEN_RE.lastIndex;
    const m = DURATION_TOKEN_RE.exec(text);
    if (m === null) return durationFailure("bad_syntax", `unexpected "${text.slice(at)}"`);
    const [, digits, unit] = m;
    if (unit === "") {
      return durationFailure("missing_unit", `"${digits}" needs a unit (${DURATION_UNIT_LIST})`);
    }
    const unitMs = DURATION_UNITS_MS.get(unit);
    if (unitMs === undefined) {
      return durationFailure("unknown_unit", `unknown unit "${unit}" (use ${DURATION_UNIT_LIST})`);
    }
    if (unitMs >= lastUnitMs) {
      return durationFailure("bad_order", `units must appear once each, largest first (like 1h30m)`);
    }
    if (digits.length > MAX_DIGITS) return durationFailure("too_large", "value is too large");
    lastUnitMs = unitMs;
    totalMs += Number(digits) * unitMs;
  }
  if (!Number.isSafeInteger(totalMs)) return durationFailure("too_large", "value is too large");
  return { ok: true, value: totalMs };
}

function parseBareDuration(value: number): DurationResult {
  if (value === 0) return { ok: true, value: 0 };
  if (value < 0) return durationFailure("negative", "durations cannot be negative");
  if (!Number.isInteger(value)) return durationFailure("fraction", "fractions are not supported");
  return durationFailure(
    "missing_unit",
    `"${value}" needs a unit (${DURATION_UNIT_LIST}); only 0 may be bare`,
  );
}

function durationFailure(reason: DurationFailure, detail: string): DurationResult {
  return { ok: false, reason, detail };
}

/**
 * Parses a size into bytes: `<integer><unit>` with binary (`KiB`, `MiB`, `GiB`, `TiB`) or decimal
 * (`KB`, `MB`, `GB`, `TB`) units or `B`, or a bare integer meaning bytes.
 *
 * @example
 * ```ts
 * parseSize("16KiB"); // { ok: true, value: 16384 }
 * parseSize("10KB"); // { ok: true, value: 10000 }
 * parseSize(512); // { ok: true, value: 512 }
 * parseSize("1mb"); // { ok: false, reason: "unknown_unit", ... }
 * ```
 */
export function parseSize(input: string | number): SizeResult {
  if (typeof input === "number") return parseBareSize(input);
  const text = input.trim();
  if (text === "") return sizeFailure("empty", "empty value");
  if (text.startsWith("-")) return sizeFailure("negative", "sizes cannot be negative");
  if (/^\d*\.\d/.test(text)) {
    return sizeFailure("fraction", "fractions are not supported, use a smaller unit (1536KiB, not 1.5MiB)");
  }
  const m = /^(\d+)([a-zA-Z]*)$/.exec(text);
  if (m === null) return sizeFailure("bad_syntax", `expected <integer><unit> like 16KiB, got "${text}"`);
  const [, digits, unit] = m;
  const unitBytes = unit === "" ? 1 : SIZE_UNITS_BYTES.get(unit);
  if (unitBytes === undefined) {
    return sizeFailure("unknown_unit", `unknown unit "${unit}" (use ${SIZE_UNIT_LIST})`);
  }
  if (digits.length > MAX_DIGITS) return sizeFailure("too_large", "value is too large");
  const bytes = Number(digits) * unitBytes;
  if (!Number.isSafeInteger(bytes)) return sizeFailure("too_large", "value is too large");
  return { ok: true, value: bytes };
}

function parseBareSize(value: number): SizeResult {
  if (value < 0) return sizeFailure("negative", "sizes cannot be negative");
  if (!Number.isInteger(value)) return sizeFailure("fraction", "fractions are not supported");
  if (!Number.isSafeInteger(value)) return sizeFailure("too_large", "value is too large");
  return { ok: true, value };
}

function sizeFailure(reason: SizeFailure, detail: string): SizeResult {
  return { ok: false, reason, detail };
}

/**
 * Writes milliseconds in the notation {@linkcode parseDuration} reads, exactly and shortest first.
 *
 * @example
 * ```ts
 * formatDuration(90_000); // "1m30s"
 * formatDuration(0); // "0"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  let rest = ms;
  let text = "";
  for (const [unit, unitMs] of DURATION_UNITS_MS) {
    const count = Math.floor(rest / unitMs);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * unitMs;
  }
  return text;
}

/**
 * Writes bytes in the largest binary unit that divides them exactly, in the notation
 * {@linkcode parseSize} reads.
 *
 * @example
 * ```ts
 * formatSize(1_048_576); // "1MiB"
 * formatSize(1536); // "1536B"
 * ```
 */
export function formatSize(bytes: number): string {
  for (const unit of ["TiB", "GiB", "MiB", "KiB"]) {
    const unitBytes = SIZE_UNITS_BYTES.get(unit)!;
    if (bytes >= unitBytes && bytes % unitBytes === 0) return `${bytes / unitBytes}${unit}`;
  }
  return `${bytes}B`;
}
