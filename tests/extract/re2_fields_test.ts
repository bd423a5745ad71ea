import assert from "node:assert/strict";
import fc from "fast-check";
import { Re2CompileError, type Re2CompileFailure, Re2Fields } from "../../src/extract/mod.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { loadRe2Engine } from "../../src/extract/mod.ts";

// These tests compile patterns with the RE2 engine itself (the agent loads it only when a pattern needs it).
await loadRe2Engine();

const DEFAULT_PATTERN = String.raw`^\[(?:rank|default)(?P<rank>\d+)\]:`;

function compile(pattern: string, maxInputBytes = 4096, engine: "auto" | "re2" = "auto") {
  const metrics = createAgentMetrics(new MetricsRegistry());
  return {
    fields: Re2Fields.compile(pattern, { maxInputBytes, requiredGroups: ["rank"], metrics, engine }),
    metrics,
  };
}

const compileErrors: Array<
  { name: string; pattern: string; cap?: number; want: Re2CompileFailure; message: RegExp }
> = [
  {
    name: "an unclosed group",
    pattern: String.raw`^\[rank(?P<rank>\d+`,
    want: "syntax",
    message: /^Invalid RE2 pattern \/.*\/: missing \)/,
  },
  {
    name: "a lookahead RE2 lacks",
    pattern: String.raw`(?=x)(?P<rank>\d)`,
    want: "syntax",
    message: /^Invalid RE2 pattern \/.*\/: invalid perl operator: \(\?=/,
  },
  {
    name: "a backreference",
    pattern: String.raw`(?P<rank>\d)\1`,
    want: "syntax",
    message: /^Invalid RE2 pattern \/.*\/: invalid escape sequence: \\1/,
  },
  {
    name: "no rank group",
    pattern: String.raw`^\[rank\d+\]:`,
    want: "missing_group",
    message: /: needs a named group rank, like \(\?P<rank>\\d\+\)$/,
  },
  {
    name: "rank only inside a class",
    pattern: String.raw`[(?P<rank>]\d`,
    want: "missing_group",
    message: /needs a named group rank/,
  },
  {
    name: "a pattern over the length ceiling",
    pattern: "(?P<rank>\\d)" + "a".repeat(1100),
    want: "too_long",
    message: /: longer than 1024 characters$/,
  },
  {
    name: "a zero input cap",
    pattern: DEFAULT_PATTERN,
    cap: 0,
    want: "bad_input_cap",
    message: /input cap must be 1\.\.1048576 bytes, got 0$/,
  },
  {
    name: "an input cap near the abort size",
    pattern: DEFAULT_PATTERN,
    cap: 6e6,
    want: "bad_input_cap",
    message: /got 6000000$/,
  },
]; // deno-fmt-ignore

for (const c of compileErrors) {
  Deno.test(`re2 fields rejects ${c.name} with a typed error`, () => {
    assert.throws(() => compile(c.pattern, c.cap), (error: unknown) => {
      assert.ok(error instanceof Re2CompileError);
      assert.equal(error.reason, c.want);
      assert.match(error.message, c.message);
      return true;
    });
  });
}

Deno.test("re2 fields accepts (?<name>) groups as well as (?P<name>)", () => {
  const { fields } = compile(String.raw`^rank=(?<rank>\d+)`);
  assert.deepEqual(fields.groupNames, ["rank"]);
  assert.deepEqual(fields.exec("rank=4 x"), { rank: "4" });
});

const matches: Array<{ name: string; input: string; want: Record<string, string> | null; calls: number }> = [
  { name: "a torchrun rank prefix", input: "[rank3]: loss=0.25", want: { rank: "3" }, calls: 1 },
  { name: "a torchrun local rank prefix", input: "[default12]: step 100", want: { rank: "12" }, calls: 1 },
  { name: "a prefix without the colon", input: "[rank3] loss", want: null, calls: 1 },
  { name: "a line without the prefix (pre-filtered)", input: "epoch 1 [rank3]: x", want: null, calls: 0 },
  { name: "an empty line (pre-filtered)", input: "", want: null, calls: 0 },
];

for (const c of matches) {
  for (const engine of ["auto", "re2"] as const) {
    Deno.test(`re2 fields with the default rank pattern (engine ${engine}) handles ${c.name}`, () => {
      const { fields, metrics } = compile(DEFAULT_PATTERN, 4096, engine);
      assert.equal(fields.engine, engine === "auto" ? "js" : "re2");
      assert.deepEqual(fields.exec(c.input), c.want);
      assert.equal(metrics.re2Calls.get(), engine === "re2" ? c.calls : 0);
    });
  }
}

const engines: Array<{ pattern: string; want: "js" | "re2" }> = [
  { pattern: DEFAULT_PATTERN, want: "js" },
  { pattern: String.raw`^rank=(?P<rank>\d+)`, want: "js" },
  { pattern: String.raw`^x(?P<rank>\d{3})\d{1,2}y`, want: "js" },
  { pattern: String.raw`^é:(?:a|b)(?P<rank>\d*)/`, want: "js" },
  { pattern: String.raw`rank=(?P<rank>\d+)`, want: "re2" },
  { pattern: String.raw`^\[rank(?P<rank>\d+)\d`, want: "re2" },
  { pattern: String.raw`^(?P<rank>\d+)(?:1|x)`, want: "re2" },
  { pattern: String.raw`^(?P<rank>\d+?)x`, want: "re2" },
  { pattern: String.raw`^a+(?P<rank>\d)`, want: "re2" },
  { pattern: String.raw`^[\[]rank(?P<rank>\d+)`, want: "re2" },
  { pattern: String.raw`^(?P<rank>\d+)$`, want: "re2" },
  { pattern: String.raw`^(?P<rank>\w+)`, want: "re2" },
  { pattern: String.raw`^(?:(?P<rank>\d))`, want: "re2" },
  { pattern: String.raw`^(?P<rank>\d)?`, want: "re2" },
];

for (const c of engines) {
  Deno.test(`re2 fields runs ${c.pattern} on the ${c.want} engine`, () => {
    assert.equal(compile(c.pattern).fields.engine, c.want);
  });
}

const prefilters: Array<{ pattern: string; want: { isAnchored: boolean; literals: string[] } | null }> = [
  { pattern: DEFAULT_PATTERN, want: { isAnchored: true, literals: ["[rank", "[default"] } },
  { pattern: String.raw`rank=(?P<rank>\d+)`, want: { isAnchored: false, literals: ["rank="] } },
  {
    pattern: String.raw`^(?:a|b)(?:c|d)(?P<rank>\d)`,
    want: { isAnchored: true, literals: ["ac", "ad", "bc", "bd"] },
  },
  { pattern: String.raw`^ab?c(?P<rank>\d)`, want: { isAnchored: true, literals: ["a"] } },
  { pattern: String.raw`^ab+c(?P<rank>\d)`, want: { isAnchored: true, literals: ["ab"] } },
  { pattern: String.raw`^\.x\((?P<rank>\d)`, want: { isAnchored: true, literals: [".x("] } },
  { pattern: String.raw`^é(?P<rank>\d)`, want: { isAnchored: true, literals: ["é"] } },
  { pattern: String.raw`^(?i)rank(?P<rank>\d)`, want: null },
  { pattern: String.raw`^rank(?P<rank>\d)|^r(?P<x>\d)`, want: null },
  { pattern: String.raw`^[rR]ank(?P<rank>\d)`, want: null },
  { pattern: String.raw`^\d(?P<rank>\d)`, want: null },
  { pattern: String.raw`^(?:|x)(?P<rank>\d)`, want: null },
  { pattern: String.raw`(?P<rank>\d+)`, want: null },
];

for (const c of prefilters) {
  Deno.test(`re2 fields derives the literal pre-filter of ${c.pattern}`, () => {
    assert.deepEqual(compile(c.pattern).fields.prefilter, c.want);
  });
}

Deno.test("re2 fields caps a long input at a character boundary and counts it", () => {
  const { fields, metrics } = compile(String.raw`^(?P<rank>é+)$`, 64);
  assert.deepEqual(fields.exec("é".repeat(10)), { rank: "é".repeat(10) });
  assert.equal(metrics.re2InputsCapped.get(), 0);
  const match = fields.exec("é".repeat(100_000));
  assert.deepEqual(
    match,
    { rank: "é".repeat(32) },
    "64 bytes hold 32 two-byte characters; $ matches the cut end",
  );
  assert.equal(metrics.re2InputsCapped.get(), 1);
});

Deno.test("re2 fields pre-filter never rejects a line the pattern matches", () => {
  const alphabet = ["a", "b", "[", ".", "1"];
  const literal = fc.constantFrom("a", "b", "\\[", "\\.", "1");
  const atom = fc.oneof(
    literal,
    fc.tuple(literal, fc.constantFrom("?", "*", "+", "{2}")).map(([l, q]) => l + q),
    fc.array(
      fc.array(fc.constantFrom("a", "b", "1"), { minLength: 0, maxLength: 2 }).map((a) => a.join("")),
      {
        minLength: 1,
        maxLength: 3,
      },
    ).map((branches) => `(?:${branches.join("|")})`),
    fc.constantFrom("[ab]", ".", "\\d"),
  );
  const pattern = fc.tuple(fc.boolean(), fc.array(atom, { minLength: 1, maxLength: 4 }))
    .map(([anchored, atoms]) => `${anchored ? "^" : ""}${atoms.join("")}(?P<rank>\\d?)`);
  const input = fc.array(fc.constantFrom(...alphabet, "ab", "a1", "[a"), { maxLength: 8 }).map((a) =>
    a.join("")
  );
  let matched = 0;
  let prefiltered = 0;
  const property = fc.property(pattern, fc.array(input, { minLength: 20, maxLength: 20 }), (p, inputs) => {
    const { fields } = compile(p);
    for (const line of inputs) {
      const isMatch = fields.exec(line) !== null;
      if (isMatch) matched++;
      if (fields.prefilter !== null) prefiltered++;
      assert.ok(
        !isMatch || fields.mayMatch(line),
        `pattern ${p} matched ${JSON.stringify(line)} yet pre-filtered`,
      );
    }
  });
  const pinned = Deno.env.get("FC_SEED");
  const seed = pinned === undefined ? (Math.random() * 2 ** 31) | 0 : Number(pinned);
  try {
    // Compiled RE2 patterns are never freed: keep the number of distinct patterns small.
    fc.assert(property, { seed, numRuns: 150 });
  } catch (thrown) {
    console.error(`Property failed with seed ${seed} (replay: FC_SEED=${seed})`);
    throw thrown;
  }
  assert.ok(matched > 100, `the generator produced matches (${matched})`);
  assert.ok(prefiltered > 100, `the generator produced patterns with a pre-filter (${prefiltered})`);
});

Deno.test("re2 fields gives the same captures on the JS engine as on RE2", () => {
  const literal = fc.constantFrom("a", "1", ":", "\\[", "\\]", "é");
  const atom = fc.oneof(
    literal,
    fc.array(fc.constantFrom("a", "1", ":", "ab", "12"), { minLength: 1, maxLength: 3 }).map((b) =>
      `(?:${b.join("|")})`
    ),
    fc.constantFrom("", "+", "*", "?", "{2}", "{1,3}").map((q) => `\\d${q}`),
  );
  const atoms = (max: number) => fc.array(atom, { minLength: 0, maxLength: max }).map((a) => a.join(""));
  const pattern = fc.tuple(atoms(3), atoms(2), atoms(3)).map(([a, g, b]) => `^${a}(?P<rank>${g})${b}`);
  const input = fc.array(fc.constantFrom("a", "1", "2", ":", "[", "]", "é", "12", "a1"), { maxLength: 8 })
    .map((a) => a.join(""));
  let onJs = 0;
  let matched = 0;
  const property = fc.property(pattern, fc.array(input, { minLength: 30, maxLength: 30 }), (p, inputs) => {
    const fast = compile(p).fields;
    if (fast.engine !== "js") return;
    onJs++;
    const slow = compile(p, 4096, "re2").fields;
    for (const line of inputs) {
      const want = slow.exec(line);
      if (want !== null) matched++;
      assert.deepEqual(fast.exec(line), want, `pattern ${p} on ${JSON.stringify(line)}`);
    }
  });
  const pinned = Deno.env.get("FC_SEED");
  const seed = pinned === undefined ? (Math.random() * 2 ** 31) | 0 : Number(pinned);
  try {
    // Compiled RE2 patterns are never freed: keep the number of distinct patterns small.
    fc.assert(property, { seed, numRuns: 150 });
  } catch (thrown) {
    console.error(`Property failed with seed ${seed} (replay: FC_SEED=${seed})`);
    throw thrown;
  }
  assert.ok(onJs > 30, `the generator produced patterns for the JS engine (${onJs})`);
  // Usually 130-180 matches; one seed in CI gave 90. The bound only proves the property compared matches.
  assert.ok(matched > 40, `the generator produced matches (${matched})`);
});

Deno.test("re2 fields survives a 16 MB line in a separate process and still matches afterwards", async () => {
  const probe = new URL("./_re2_survival_probe.ts", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
      probe.pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim().split("\n");
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.deepEqual(JSON.parse(stdout.at(-1)!), {
    huge: { rank: "7" },
    after: { rank: "5" },
    calls: 2,
    capped: 1,
    failures: 0,
    done: true,
  });
});
