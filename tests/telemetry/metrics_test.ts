import assert from "node:assert/strict";
import fc from "fast-check";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";

interface RenderCase {
  name: string;
  build: (registry: MetricsRegistry) => void;
  want: string;
}

const RENDER_CASES: RenderCase[] = [
  { name: "an empty registry", build: () => {}, want: "\n" },
  {
    name: "a counter without labels starts at 0",
    build: (r) => r.counter("x_total", "Things counted"),
    want: "# HELP x_total Things counted\n# TYPE x_total counter\nx_total 0\n",
  },
  {
    name: "a labelled counter shows only touched series, in first-use order",
    build: (r) => {
      const c = r.counter("lost_bytes_total", "Bytes lost", ["reason"]);
      c.inc(5, "deleted");
      c.inc(2, "rotated");
      c.inc(1, "deleted");
    },
    want: [
      "# HELP lost_bytes_total Bytes lost",
      "# TYPE lost_bytes_total counter",
      'lost_bytes_total{reason="deleted"} 6',
      'lost_bytes_total{reason="rotated"} 2',
      "",
    ].join("\n"),
  },
  {
    name: "a gauge with two labels",
    build: (r) => r.gauge("g", "A gauge", ["a", "b"]).set(-1.5, "x", "y"),
    want: '# HELP g A gauge\n# TYPE g gauge\ng{a="x",b="y"} -1.5\n',
  },
  {
    name: "label values with a backslash, a quote and a newline",
    build: (r) => r.gauge("g", "A gauge", ["path"]).set(1, 'C:\\logs\\"a"\nb'),
    want: '# HELP g A gauge\n# TYPE g gauge\ng{path="C:\\\\logs\\\\\\"a\\"\\nb"} 1\n',
  },
  {
    name: "help text with a backslash and a newline",
    build: (r) => r.counter("h_total", "Line one\\two\nline two"),
    want: "# HELP h_total Line one\\\\two\\nline two\n# TYPE h_total counter\nh_total 0\n",
  },
  {
    name: "non-finite gauge values",
    build: (r) => {
      const g = r.gauge("g", "A gauge", ["v"]);
      g.set(NaN, "nan");
      g.set(Infinity, "inf");
      g.set(-Infinity, "ninf");
    },
    want: '# HELP g A gauge\n# TYPE g gauge\ng{v="nan"} NaN\ng{v="inf"} +Inf\ng{v="ninf"} -Inf\n',
  },
  {
    name: "metrics in registration order",
    build: (r) => {
      r.gauge("b", "Second");
      r.counter("a_total", "First");
    },
    want: "# HELP b Second\n# TYPE b gauge\nb 0\n# HELP a_total First\n# TYPE a_total counter\na_total 0\n",
  },
];

for (const { name, build, want } of RENDER_CASES) {
  Deno.test(`metrics render ${name} in the Prometheus text format`, () => {
    const registry = new MetricsRegistry();
    build(registry);
    assert.equal(registry.render(), want);
  });
}

Deno.test("metrics render runs collectors first so gauges read from elsewhere are fresh", () => {
  const registry = new MetricsRegistry();
  const gauge = registry.gauge("queue", "Queued things");
  let queued = 3;
  registry.onCollect(() => gauge.set(queued));
  assert.match(registry.render(), /^queue 3$/m);
  queued = 9;
  assert.match(registry.render(), /^queue 9$/m);
});

interface ThrowCase {
  name: string;
  act: (registry: MetricsRegistry) => void;
  want: string;
}

const THROW_CASES: ThrowCase[] = [
  {
    name: "a name registered twice",
    act: (r) => {
      r.counter("dup_total", "One");
      r.gauge("dup_total", "Two");
    },
    want: "Metric dup_total is registered twice",
  },
  {
    name: "an invalid metric name",
    act: (r) => r.counter("bad-name", "Bad"),
    want: "Invalid metric name: bad-name",
  },
  {
    name: "a wrong number of label values",
    act: (r) => r.counter("c_total", "C", ["a", "b"]).inc(1, "only-one"),
    want: "Metric c_total expects 2 label values, got 1",
  },
  {
    name: "a negative counter increment",
    act: (r) => r.counter("c_total", "C").inc(-1),
    want: "Counter c_total cannot add -1: counters only increase",
  },
  {
    name: "a NaN counter increment",
    act: (r) => r.counter("c_total", "C").inc(NaN),
    want: "Counter c_total cannot add NaN: counters only increase",
  },
];

for (const { name, act, want } of THROW_CASES) {
  Deno.test(`metrics reject ${name}`, () => {
    assert.throws(() => act(new MetricsRegistry()), { message: want });
  });
}

Deno.test("metrics counter never decreases under any sequence of increments", () => {
  const pinned = Deno.env.get("FC_SEED");
  const seed = pinned === undefined ? (Math.random() * 2 ** 31) | 0 : Number(pinned);
  let rejected = 0;
  try {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            by: fc.oneof(fc.double({ min: -1e6, max: 1e6 }), fc.nat({ max: 1000 })),
            label: fc.constantFrom("a", "b"),
          }),
          { maxLength: 50 },
        ),
        (steps) => {
          const counter = new MetricsRegistry().counter("c_total", "C", ["k"]);
          for (const { by, label } of steps) {
            const before = counter.get(label);
            try {
              counter.inc(by, label);
            } catch {
              rejected++;
            }
            assert.ok(counter.get(label) >= before, `${label} went from ${before} to ${counter.get(label)}`);
          }
        },
      ),
      { seed, numRuns: 300 },
    );
  } catch (thrown) {
    console.error(`Property failed with seed ${seed} (replay: FC_SEED=${seed})`);
    throw thrown;
  }
  assert.ok(rejected > 0, "the generator tried negative increments");
});

Deno.test("metrics get, total and labels read the series they name", () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter("r_total", "R", ["reason"]);
  counter.inc(2, "a");
  counter.labels("b").value += 5;
  assert.equal(counter.get("a"), 2);
  assert.equal(counter.get("b"), 5);
  assert.equal(counter.get("never"), 0);
  assert.equal(counter.total(), 7);
  assert.deepEqual(registry.list().map((m) => [m.name, m.type]), [["r_total", "counter"]]);
});
