/**
 * Runs in its own process (see re2_fields_test.ts): feeds a 16 MB line to the default rank pattern on
 * the RE2 engine, then a normal one, and prints one JSON line. If the engine aborted and took the
 * process with it, the last line would be missing (re2-wasm can end the process with code 0 after an
 * abort).
 *
 * @module
 */

import { Re2Fields } from "../../src/extract/mod.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { loadRe2Engine } from "../../src/extract/mod.ts";

// These tests compile patterns with the RE2 engine itself (the agent loads it only when a pattern needs it).
await loadRe2Engine();

const metrics = createAgentMetrics(new MetricsRegistry());
const fields = Re2Fields.compile(String.raw`^\[(?:rank|default)(?P<rank>\d+)\]:`, {
  maxInputBytes: 4096,
  requiredGroups: ["rank"],
  metrics,
  engine: "re2",
});
const huge = fields.exec("[rank7]: " + "x".repeat(16 * 1024 * 1024));
const after = fields.exec("[rank5]: ok");
console.log(JSON.stringify({
  huge,
  after,
  calls: metrics.re2Calls.get(),
  capped: metrics.re2InputsCapped.get(),
  failures: metrics.re2Failures.get(),
  done: true,
}));
