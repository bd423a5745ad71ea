import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type DurationFailure,
  formatDuration,
  formatSize,
  parseDuration,
  parseSize,
  type SizeFailure,
} from "../../src/config/units.ts";
import { assertProperty } from "../_helpers/property.ts";

const DURATION_CASES: { name: string; input: string | number; want: number | DurationFailure }[] = [
  { name: "milliseconds", input: "250ms", want: 250 },
  { name: "seconds", input: "2s", want: 2_000 },
  { name: "minutes", input: "1m", want: 60_000 },
  { name: "hours", input: "1h", want: 3_600_000 },
  { name: "minutes and seconds", input: "1m30s", want: 90_000 },
  { name: "every unit in order", input: "1h2m3s4ms", want: 3_723_004 },
  { name: "surrounding spaces", input: " 5s ", want: 5_000 },
  { name: "bare string zero", input: "0", want: 0 },
  { name: "bare number zero", input: 0, want: 0 },
  { name: "zero with a unit", input: "0s", want: 0 },
  { name: "empty string", input: "", want: "empty" },
  { name: "blank string", input: "  ", want: "empty" },
  { name: "bare non-zero string", input: "5", want: "missing_unit" },
  { name: "bare non-zero number", input: 5, want: "missing_unit" },
  { name: "trailing number without unit", input: "1m30", want: "missing_unit" },
  { name: "negative string", input: "-5s", want: "negative" },
  { name: "negative number", input: -1, want: "negative" },
  { name: "fraction string", input: "1.5s", want: "fraction" },
  { name: "fraction number", input: 0.5, want: "fraction" },
  { name: "unknown unit", input: "5sec", want: "unknown_unit" },
  { name: "day unit", input: "1d", want: "unknown_unit" },
  { name: "upper-case unit", input: "5S", want: "unknown_unit" },
  { name: "units out of order", input: "30s1m", want: "bad_order" },
  { name: "repeated unit", input: "1s1s", want: "bad_order" },
  { name: "space between parts", input: "1m 30s", want: "bad_syntax" },
  { name: "leading plus", input: "+5s", want: "bad_syntax" },
  { name: "letters only", input: "ms", want: "bad_syntax" },
  { name: "too many digits", input: "99999999999999999ms", want: "too_large" },
  { name: "product beyond 2^53", input: "999999999999999h", want: "too_large" },
  { name: "16 digits just beyond 2^53", input: "9007199254740993ms", want: "too_large" },
  { name: "largest safe milliseconds", input: "9007199254740991ms", want: 9_007_199_254_740_991 },
];

for (const { name, input, want } of DURATION_CASES) {
  Deno.test(`parseDuration reads ${name} (${JSON.stringify(input)})`, () => {
    const result = parseDuration(input);
    if (typeof want === "number") assert.deepEqual(result, { ok: true, value: want });
    else {
      assert.equal(result.ok, false);
      if (!result.ok) assert.equal(result.reason, want);
    }
  });
}

const SIZE_CASES: { name: string; input: string | number; want: number | SizeFailure }[] = [
  { name: "bytes", input: "512B", want: 512 },
  { name: "kibibytes", input: "16KiB", want: 16_384 },
  { name: "mebibytes", input: "1MiB", want: 1_048_576 },
  { name: "gibibytes", input: "1GiB", want: 1_073_741_824 },
  { name: "tebibytes", input: "2TiB", want: 2 * 2 ** 40 },
  { name: "kilobytes", input: "10KB", want: 10_000 },
  { name: "megabytes", input: "1MB", want: 1_000_000 },
  { name: "gigabytes", input: "3GB", want: 3e9 },
  { name: "bare integer string", input: "1024", want: 1_024 },
  { name: "bare integer number", input: 4096, want: 4_096 },
  { name: "zero", input: 0, want: 0 },
  { name: "surrounding spaces", input: " 1KiB ", want: 1_024 },
  { name: "empty", input: "", want: "empty" },
  { name: "negative string", input: "-1KiB", want: "negative" },
  { name: "negative number", input: -3, want: "negative" },
  { name: "fraction string", input: "1.5MiB", want: "fraction" },
  { name: "fraction number", input: 1.5, want: "fraction" },
  { name: "lower-case unit", input: "1mb", want: "unknown_unit" },
  { name: "Kubernetes quantity suffix", input: "1Mi", want: "unknown_unit" },
  { name: "space before unit", input: "1 MiB", want: "bad_syntax" },
  { name: "unit only", input: "MiB", want: "bad_syntax" },
  { name: "too many digits", input: "12345678901234567", want: "too_large" },
  { name: "beyond 2^53", input: "9000000TiB", want: "too_large" },
  { name: "unsafe number", input: 2 ** 60, want: "too_large" },
];

for (const { name, input, want } of SIZE_CASES) {
  Deno.test(`parseSize reads ${name} (${JSON.stringify(input)})`, () => {
    const result = parseSize(input);
    if (typeof want === "number") assert.deepEqual(result, { ok: true, value: want });
    else {
      assert.equal(result.ok, false);
      if (!result.ok) assert.equal(result.reason, want);
    }
  });
}

const FORMAT_CASES: { name: string; ms?: number; bytes?: number; want: string }[] = [
  { name: "zero duration", ms: 0, want: "0" },
  { name: "whole hours", ms: 7_200_000, want: "2h" },
  { name: "minutes and seconds", ms: 90_000, want: "1m30s" },
  { name: "odd milliseconds", ms: 1_001, want: "1s1ms" },
  { name: "zero size", bytes: 0, want: "0B" },
  { name: "whole mebibytes", bytes: 64 * 2 ** 20, want: "64MiB" },
  { name: "size not a power of two", bytes: 1_536, want: "1536B" },
  { name: "decimal megabyte", bytes: 1_000_000, want: "1000000B" },
];

for (const { name, ms, bytes, want } of FORMAT_CASES) {
  Deno.test(`format writes ${name} as ${want}`, () => {
    assert.equal(ms !== undefined ? formatDuration(ms) : formatSize(bytes!), want);
  });
}

Deno.test("parseDuration and parseSize never throw on any string", () => {
  const durationLike = fc.array(
    fc.constantFrom("1", "0", "12", "h", "m", "s", "ms", ".", "-", " ", "µs", "d"),
    {
      maxLength: 8,
    },
  ).map((parts) => parts.join(""));
  assertProperty(
    fc.property(fc.oneof(fc.string(), durationLike, fc.double().map(String)), (text) => {
      const duration = parseDuration(text);
      const size = parseSize(text);
      for (const result of [duration, size]) {
        if (result.ok) assert.ok(Number.isSafeInteger(result.value) && result.value >= 0);
        else assert.ok(result.detail.length > 0);
      }
    }),
    2_000,
  );
});

Deno.test("formatDuration output parses back to the same milliseconds", () => {
  assertProperty(
    fc.property(fc.maxSafeNat(), (ms) => {
      assert.deepEqual(parseDuration(formatDuration(ms)), { ok: true, value: ms });
    }),
  );
});

Deno.test("formatSize output parses back to the same bytes", () => {
  const sizes = fc.oneof(
    fc.maxSafeNat(),
    fc.tuple(fc.nat({ max: 4096 }), fc.constantFrom(1, 2 ** 10, 2 ** 20, 2 ** 30, 2 ** 40)).map(([n, u]) =>
      n * u
    ),
  );
  assertProperty(
    fc.property(sizes, (bytes) => {
      assert.deepEqual(parseSize(formatSize(bytes)), { ok: true, value: bytes });
    }),
  );
});
