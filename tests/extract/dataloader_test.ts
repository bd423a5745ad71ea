import assert from "node:assert/strict";
import fc from "fast-check";
import { validateConfig } from "../../src/config/validate.ts";
import {
  checkDataloaderPatterns,
  DATA_TIME_ATTRIBUTE,
  DataloaderExtractor,
  DataloaderStage,
  DEFAULT_DATALOADER_PATTERNS,
  ITER_TIME_ATTRIBUTE,
  loadRe2Engine,
  Re2Fields,
} from "../../src/extract/mod.ts";
import type { LogRecord, RecordOrigin } from "../../src/record.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { assertProperty } from "../_helpers/property.ts";

// These tests compile patterns with the RE2 engine itself (the agent loads it only when a pattern needs it).
await loadRe2Engine();

function freshMetrics() {
  return createAgentMetrics(new MetricsRegistry());
}

/** Lines as the trainers print them; shared with bench/dataloader_bench.ts. */
export const FORM_CASES: { name: string; line: string; data: number | null; iter: number | null }[] = [
  {
    name: "key=value with units",
    line: "step 10 data_time_s=0.012 iter_time_s=0.340 loss=2.1",
    data: 0.012,
    iter: 0.34,
  },
  { name: "key: value", line: "data_time: 0.012 iter_time: 0.340", data: 0.012, iter: 0.34 },
  {
    name: "mmengine (time before data_time)",
    line: "Epoch(train)  [1][ 50/1563]  lr: 1.0000e-01  eta: 0:21:36  time: 0.3400  data_time: 0.0120  " +
      "memory: 1234  loss: 2.3021",
    data: 0.012,
    iter: 0.34,
  },
  {
    name: "detectron2",
    line:
      " iter: 19  total_loss: 2.107  loss_cls: 0.8  time: 0.3400  data_time: 0.0120  lr: 0.0002  max_mem: 1234M",
    data: 0.012,
    iter: 0.34,
  },
  {
    name: "Lightning progress bar with logged timings",
    line: "Epoch 0:  50%|█████     | 50/100 [00:05<00:05, 9.80it/s, v_num=0, data_time=0.012, time=0.340]",
    data: 0.012,
    iter: 0.34,
  },
  {
    name: "a JSON line",
    line: '{"step": 10, "data_time_s": 0.012, "iter_time_s": 2, "loss": 2.1}',
    data: 0.012,
    iter: 2,
  },
  { name: "an exponent", line: "data_time=1.5e-3 iter_time=0.25", data: 0.0015, iter: 0.25 },
  { name: "data time alone", line: "data_time: 0.5", data: 0.5, iter: null },
  { name: "iteration time alone", line: "iter_time_s=0.9", data: null, iter: 0.9 },
  { name: "a bare time without a _time key anywhere", line: "request time: 0.3", data: null, iter: null },
  { name: "plain text", line: "loading checkpoint shard 3/8", data: null, iter: null },
  { name: "a key with no number", line: "data_time: n/a", data: null, iter: null },
];

const extractor = DataloaderExtractor.compile({ maxInputBytes: 4096, metrics: freshMetrics() });

for (const c of FORM_CASES) {
  Deno.test(`default dataloader patterns read ${c.name} from text and from bytes`, () => {
    const want = c.data === null && c.iter === null ? null : { dataTimeS: c.data, iterTimeS: c.iter };
    assert.deepEqual(extractor.extract(c.line), want);
    assert.deepEqual(extractor.extract(new TextEncoder().encode(c.line)), want);
  });
}

Deno.test("default dataloader patterns run on their JS twins behind the _time gate", () => {
  assert.deepEqual(extractor.fields.map((f) => f.engine), ["js", "js", "js"]);
  assert.deepEqual(extractor.gate, ["_time"]);
});

Deno.test("each default dataloader pattern's JS twin matches exactly like RE2", () => {
  const tokens = [
    "data_time",
    "iter_time",
    "_s",
    "_time",
    " time",
    "time",
    '"',
    ":",
    "=",
    " ",
    "\t",
    "\n",
    "0",
    "1",
    "9",
    ".",
    "e",
    "E",
    "-",
    "+",
    "x",
    "é",
    "\u00a0",
  ];
  // Near-misses and hits: a key, an optional quote, blanks, a separator, blanks and a number-like run.
  const field = fc.tuple(
    fc.constantFrom("data_time", "data_time_s", "iter_time", "iter_time_s", " time", ' "time', "xtime"),
    fc.constantFrom("", '"'),
    fc.constantFrom("", " ", "\t", "  ", "\n"),
    fc.constantFrom("=", ":", "", "-"),
    fc.constantFrom("", " ", "\t "),
    fc.stringMatching(/^[0-9.eE+-]{0,8}$/),
  ).map((parts) => parts.join(""));
  const input = fc.array(fc.oneof(fc.constantFrom(...tokens), field), { maxLength: 12 })
    .map((parts) => parts.join(""));
  const metrics = freshMetrics();
  const pairs = DEFAULT_DATALOADER_PATTERNS.map((pattern) => ({
    re2: Re2Fields.compile(pattern, { maxInputBytes: 4096, engine: "re2", metrics }),
    js: DataloaderExtractor.compile({ patterns: DEFAULT_DATALOADER_PATTERNS, maxInputBytes: 4096, metrics })
      .fields[DEFAULT_DATALOADER_PATTERNS.indexOf(pattern)],
  }));
  let matched = 0;
  assertProperty(
    fc.property(input, (text) => {
      for (const { re2, js } of pairs) {
        const want = re2.exec(text);
        assert.deepEqual(js.exec(text), want === null ? null : { ...want }, JSON.stringify(text));
        if (want !== null) matched++;
      }
    }),
    2000,
  );
  assert.ok(matched > 100, `the generator produced only ${matched} matching inputs`);
});

Deno.test("a body without the gate literal costs no RE2 call, a candidate costs one per pattern", () => {
  const metrics = freshMetrics();
  // Unanchored, so outside the JS subset: this pattern runs on RE2.
  const custom = DataloaderExtractor.compile({
    patterns: [String.raw`loader_wait_ms=(?P<data_time_s>\d+)`],
    maxInputBytes: 4096,
    metrics,
  });
  assert.equal(custom.fields[0].engine, "re2");
  for (let i = 0; i < 1000; i++) {
    assert.equal(custom.extract(`step ${i} loss=0.1 data_time=0.2 wait=3`), null);
    assert.equal(custom.extract(new TextEncoder().encode(`step ${i} loss=0.1`)), null);
  }
  assert.equal(metrics.re2Calls.total(), 0);
  assert.deepEqual(custom.extract("loader_wait_ms=12"), { dataTimeS: 12, iterTimeS: null });
  assert.equal(metrics.re2Calls.total(), 1);
});

Deno.test("a custom pattern with both groups reads both", () => {
  const custom = DataloaderExtractor.compile({
    patterns: [String.raw`wait (?P<data_time_s>[0-9.]+)s of (?P<iter_time_s>[0-9.]+)s`],
    maxInputBytes: 4096,
    metrics: freshMetrics(),
  });
  assert.deepEqual(custom.extract("rank 3: wait 0.05s of 0.50s"), { dataTimeS: 0.05, iterTimeS: 0.5 });
  assert.deepEqual(custom.gate, ["wait "]);
});

const PROBLEM_CASES: { name: string; pattern: string; want: RegExp | null }[] = [
  { name: "the default patterns", pattern: DEFAULT_DATALOADER_PATTERNS[0], want: null },
  {
    name: "a lookahead RE2 refuses",
    pattern: String.raw`(?=x)(?P<data_time_s>\d+)`,
    want: /Invalid RE2 pattern/,
  },
  {
    name: "a pattern with another group only",
    pattern: String.raw`t=(?P<other>\d+)`,
    want: /data_time_s or iter_time_s/,
  },
];

for (const c of PROBLEM_CASES) {
  Deno.test(`checkDataloaderPatterns reports ${c.want === null ? "nothing" : "a problem"} for ${c.name}`, () => {
    const problems = checkDataloaderPatterns([c.pattern], { maxInputBytes: 4096, metrics: freshMetrics() });
    if (c.want === null) assert.deepEqual(problems, []);
    else {
      assert.equal(problems.length, 1);
      assert.equal(problems[0].path, "dataloader.patterns[0]");
      assert.match(problems[0].message, c.want);
    }
  });
}

const VALIDATION_CASES: { name: string; patterns: unknown; want: RegExp | null }[] = [
  { name: "a custom pattern with a group", patterns: [String.raw`x=(?P<iter_time_s>\d+)`], want: null },
  { name: "an empty pattern", patterns: [""], want: /Must not be empty/ },
  {
    name: "a pattern without either group",
    patterns: [String.raw`x=(\d+)`],
    want: /data_time_s or iter_time_s/,
  },
  {
    name: "a pattern past the length ceiling",
    patterns: ["(?P<data_time_s>1)" + "a".repeat(600)],
    want: /longer than 512/,
  },
];

for (const c of VALIDATION_CASES) {
  Deno.test(`config validation of dataloader.patterns accepts or names ${c.name}`, () => {
    const result = validateConfig({ dataloader: { patterns: c.patterns } }, { env: () => undefined });
    if (c.want === null) assert.ok(result.ok);
    else {
      assert.ok(!result.ok);
      assert.equal(result.errors[0].path, "dataloader.patterns[0]");
      assert.match(result.errors[0].message, c.want);
    }
  });
}

// ---- the stage ---------------------------------------------------------------------------------

const ORIGIN: RecordOrigin = { fileKey: "f", startOffset: 0, endOffset: 10, sizeBytes: 10, podPath: null };

function record(body: LogRecord["body"], attributes: LogRecord["attributes"] = {}): LogRecord {
  return {
    hrTime: [1, 0],
    hrTimeObserved: [2, 0],
    body,
    attributes,
    droppedAttributesCount: 0,
    resource: { attributes: {} },
    instrumentationScope: { name: "t", version: "0" },
  };
}

Deno.test("dataloader stage adds double attributes and reports job and rank to the observer", () => {
  const metrics = freshMetrics();
  const seen: unknown[][] = [];
  const out: LogRecord[] = [];
  const stage = new DataloaderStage({
    extractor,
    observer: { observe: (...args) => void seen.push(args) },
    metrics,
    next: { push: (r) => void out.push(r) },
  });
  const attributes = { "gen_ai.training.rank": 3, "gen_ai.training.job_id": "llm-7b" };
  stage.push(record(new TextEncoder().encode("data_time: 0.25 iter_time: 1"), attributes), ORIGIN);
  stage.push(record("no timings here"), ORIGIN);
  assert.equal(out.length, 2);
  assert.equal(out[0].attributes[DATA_TIME_ATTRIBUTE], 0.25);
  // An integral time is still a double on the wire: the Float64Array marker (record.ts).
  assert.deepEqual(out[0].attributes[ITER_TIME_ATTRIBUTE], Float64Array.of(1));
  assert.deepEqual(out[1].attributes, {});
  assert.deepEqual(seen, [["llm-7b", "3", 0.25, 1]]);
  assert.equal(metrics.dataloaderMatches.total(), 1);
});
