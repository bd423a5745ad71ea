import assert from "node:assert/strict";
import { CONFIG_SCHEMA, type OptionSpec } from "../../src/config/schema.ts";
import { parseDuration, parseSize } from "../../src/config/units.ts";
import { validateConfig } from "../../src/config/validate.ts";

const noEnv = (): undefined => undefined;

Deno.test("config schema lists every key and every field exactly once", () => {
  const keys = CONFIG_SCHEMA.map((s) => s.key);
  const fields = CONFIG_SCHEMA.map((s) => s.field);
  assert.equal(new Set(keys).size, keys.length);
  assert.equal(new Set(fields).size, fields.length);
});

Deno.test("config schema keys are dotted snake_case and fields are dotted camelCase", () => {
  for (const spec of CONFIG_SCHEMA) {
    assert.match(spec.key, /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, spec.key);
    assert.match(spec.field, /^[a-z][a-zA-Z0-9]*(\.[a-z][a-zA-Z0-9]*)*$/, spec.field);
  }
});

Deno.test("config schema never uses a key as both an option and a section", () => {
  const keys = new Set(CONFIG_SCHEMA.map((s) => s.key));
  for (const key of keys) {
    const parts = key.split(".");
    for (let i = 1; i < parts.length; i++) assert.ok(!keys.has(parts.slice(0, i).join(".")), key);
  }
});

// The unit a Config field name must end with, so that quantities carry their unit in their name.
const FIELD_SUFFIX: Record<string, RegExp> = { ms: /Ms$/, bytes: /Bytes$/, s: /Seconds$/ };

Deno.test("config schema gives durations and sizes a unit that their field name carries", () => {
  for (const spec of CONFIG_SCHEMA) {
    if (spec.type === "duration") assert.equal(spec.unit, "ms", spec.key);
    if (spec.type === "size") assert.equal(spec.unit, "bytes", spec.key);
    if (spec.unit !== undefined) assert.match(spec.field, FIELD_SUFFIX[spec.unit], spec.key);
  }
});

Deno.test("config schema rows have a one-line doc without a trailing period", () => {
  for (const spec of CONFIG_SCHEMA) {
    assert.ok(spec.doc.length > 0 && spec.doc.length <= 120, spec.key);
    assert.ok(!spec.doc.includes("\n") && !spec.doc.endsWith("."), spec.key);
  }
});

Deno.test("config schema gives enums their values and nothing else", () => {
  for (const spec of CONFIG_SCHEMA) {
    assert.equal(spec.type === "enum", spec.values !== undefined, spec.key);
    if (spec.values !== undefined) assert.ok(spec.values.includes(spec.default as string), spec.key);
  }
});

function boundValue(spec: OptionSpec, bound: number | string): number {
  if (typeof bound === "number") return bound;
  const parsed = spec.type === "duration" ? parseDuration(bound) : parseSize(bound);
  assert.ok(parsed.ok, `${spec.key}: bound ${bound}`);
  return parsed.value;
}

Deno.test("config schema bounds are ordered and hold their default", () => {
  for (const spec of CONFIG_SCHEMA) {
    if (spec.min === undefined && spec.max === undefined) continue;
    assert.ok(["int", "duration", "size"].includes(spec.type), spec.key);
    const value = boundValue(spec, spec.default as number | string);
    const min = spec.min === undefined ? -Infinity : boundValue(spec, spec.min);
    const max = spec.max === undefined ? Infinity : boundValue(spec, spec.max);
    assert.ok(min <= value && value <= max, `${spec.key}: ${min} <= ${value} <= ${max}`);
  }
});

const BOUND_MESSAGE = /^Must be at (least|most) \S+, got \S+$/;

Deno.test("config schema bounds are themselves accepted and one step beyond them is not", () => {
  for (const spec of CONFIG_SCHEMA) {
    for (const [bound, step] of [[spec.min, -1], [spec.max, 1]] as const) {
      if (bound === undefined) continue;
      const value = boundValue(spec, bound);
      const at = validateConfig(rawWith(spec.key, bound), { env: noEnv });
      const beyondValue = spec.type === "duration" ? `${value + step}ms` : value + step;
      const beyond = validateConfig(rawWith(spec.key, beyondValue), { env: noEnv });
      // Only the bound's own message counts: cross-field rules may object to a bound value.
      const isBoundProblem = (e: { path: string; message: string }): boolean =>
        e.path === spec.key && BOUND_MESSAGE.test(e.message);
      assert.deepEqual(at.ok ? [] : at.errors.filter(isBoundProblem), [], `${spec.key} at ${bound}`);
      if (value + step >= 0) assert.ok(!beyond.ok && beyond.errors.some(isBoundProblem), spec.key);
    }
  }
});

Deno.test("config schema defaults written out explicitly validate to the default config", () => {
  const raw: Record<string, unknown> = {};
  for (const spec of CONFIG_SCHEMA) Object.assign(raw, rawWith(spec.key, spec.default, raw));
  assert.deepEqual(validateConfig(raw, { env: noEnv }), validateConfig({}, { env: noEnv }));
});

function rawWith(key: string, value: unknown, into: Record<string, unknown> = {}): Record<string, unknown> {
  const parts = key.split(".");
  let node = into;
  for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
  node[parts[parts.length - 1]] = value;
  return into;
}
