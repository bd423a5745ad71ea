/**
 * docs/FAILURE-MODES.md covers every way the agent degrades or loses data, as the code defines them: the
 * Kinds of src/telemetry/kinds.ts and every loss or drop reason union of src/. Each row must name an
 * alert that exists, a runbook section that exists, and a test that exists by its exact name.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { KINDS } from "../../src/telemetry/kinds.ts";

const REPO_ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const DOC = "docs/FAILURE-MODES.md";

/**
 * Rows whose test does not exist yet, with the issue that adds it. A row saying "none yet" must be here,
 * and an entry here must be a row saying "none yet": when the test lands, name it in the row and drop it.
 */
const PENDING_TESTS: ReadonlyMap<string, string> = new Map([]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...sourceFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** A loss or drop reason and where the code defines it. */
interface Reason {
  kind: "Loss" | "Drop";
  value: string;
  source: string;
}

/**
 * Every loss and drop reason of src/: string literals of `type XLossReason = "a" | "b"` /
 * `type XDropReason = ...` unions, of `X_LOSS_REASONS = [...]` / `X_DROP_REASONS = [...]` lists and of
 * single `X_LOSS_REASON = "a"` / `X_DROP_REASON = "a"` constants.
 */
export function reasonsInCode(root = join(REPO_ROOT, "src")): Reason[] {
  const out: Reason[] = [];
  const add = (name: string, body: string, file: string): void => {
    const kind = /loss/i.test(name) ? "Loss" : "Drop";
    for (const m of body.matchAll(/"([a-z0-9_]+)"/g)) {
      out.push({ kind, value: m[1], source: `${relative(REPO_ROOT, file)} ${name}` });
    }
  };
  for (const file of sourceFiles(root)) {
    const text = Deno.readTextFileSync(file);
    for (const m of text.matchAll(/\btype\s+(\w*(?:Loss|Drop)Reason)\s*=\s*((?:\s*\|?\s*"[^"]*")+)\s*;/g)) {
      add(m[1], m[2], file);
    }
    for (const m of text.matchAll(/\bconst\s+(\w*(?:LOSS|DROP)_REASONS)\b[^=]*=\s*\[([^\]]*)\]/g)) {
      add(m[1], m[2], file);
    }
    for (const m of text.matchAll(/\bconst\s+(\w*(?:LOSS|DROP)_REASON)\b[^=]*=\s*("[^"]*")/g)) {
      add(m[1], m[2], file);
    }
  }
  return out;
}

interface Row {
  name: string;
  alert: string;
  runbook: string;
  test: string;
}

function rows(): Row[] {
  const text = Deno.readTextFileSync(join(REPO_ROOT, DOC));
  const out: Row[] = [];
  for (const line of text.split("\n")) {
    const cells = line.split(" | ").map((c) => c.replace(/^\|\s*|\s*\|$/g, "").trim());
    const m = /^(Kind|Loss|Drop) `([^`]+)`$/.exec(cells[0] ?? "");
    if (m === null) continue;
    assert.equal(cells.length, 6, `row of ${cells[0]} has ${cells.length} cells, not 6`);
    out.push({ name: `${m[1]} ${m[2]}`, alert: cells[3], runbook: cells[4], test: cells[5] });
  }
  return out;
}

function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, "").replace(/ /g, "-");
}

const ALERTS = Deno.readTextFileSync(join(REPO_ROOT, "chart/files/alerts.yaml"));
const RUNBOOK_ANCHORS = new Set(
  Deno.readTextFileSync(join(REPO_ROOT, "docs/RUNBOOK.md")).split("\n")
    .filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, ""))),
);

Deno.test("failure-mode reason scan finds the reasons the code defines today", () => {
  const values = reasonsInCode().map((r) => `${r.kind} ${r.value}`);
  for (
    const want of [
      "Loss drain_deadline",
      "Loss gone_while_down",
      "Drop retry_exhausted",
      "Drop permanent_status",
    ]
  ) {
    assert.ok(values.includes(want), `the scan missed ${want}; found ${values.join(", ")}`);
  }
});

Deno.test("failure modes table has a row for every degraded-state Kind", () => {
  const names = new Set(rows().map((r) => r.name));
  assert.deepEqual(KINDS.filter((k) => !names.has(`Kind ${k}`)), []);
});

Deno.test("failure modes table has a row for every loss and drop reason in the code", () => {
  const names = new Set(rows().map((r) => r.name));
  const missing = reasonsInCode().filter((r) => !names.has(`${r.kind} ${r.value}`))
    .map((r) => `${r.kind} ${r.value} (${r.source})`);
  assert.deepEqual(missing, []);
});

Deno.test("failure modes table names only Kinds that exist", () => {
  const kinds = new Set<string>(KINDS);
  const stale = rows().filter((r) => r.name.startsWith("Kind ") && !kinds.has(r.name.slice(5)));
  assert.deepEqual(stale.map((r) => r.name), []);
});

Deno.test("every failure mode names an alert of chart/files/alerts.yaml", () => {
  const wrong = rows().filter((r) => {
    const m = /^`(\w+)`$/.exec(r.alert);
    return m === null || !new RegExp(`^\\s*- alert: ${m[1]}$`, "m").test(ALERTS);
  });
  assert.deepEqual(wrong.map((r) => `${r.name}: ${r.alert}`), []);
});

Deno.test("every Kind's alert watches that Kind's gauge", () => {
  for (const kind of KINDS) {
    assert.match(
      ALERTS,
      new RegExp(`containerstdout_degraded\\{kind="${kind}"\\}`),
      `no alert expression on ${kind}`,
    );
  }
});

Deno.test("every failure mode links a runbook section that exists", () => {
  const wrong = rows().filter((r) => {
    const m = /\(RUNBOOK\.md#([a-z0-9_-]+)\)/.exec(r.runbook);
    return m === null || !RUNBOOK_ANCHORS.has(m[1]);
  });
  assert.deepEqual(wrong.map((r) => `${r.name}: ${r.runbook}`), []);
});

Deno.test("every failure mode names a test that exists by that exact name in the file it gives", () => {
  const wrong: string[] = [];
  for (const row of rows()) {
    if (row.test === "none yet") {
      if (!PENDING_TESTS.has(row.name)) wrong.push(`${row.name}: "none yet" but not in PENDING_TESTS`);
      continue;
    }
    const m = /^`(.+)` \((tests\/[\w/.-]+_test\.ts)\)$/.exec(row.test);
    if (m === null) {
      wrong.push(`${row.name}: test cell is not \`<test name>\` (tests/<file>_test.ts): ${row.test}`);
      continue;
    }
    const [, name, file] = m;
    let text = "";
    try {
      text = Deno.readTextFileSync(join(REPO_ROOT, file));
    } catch {
      wrong.push(`${row.name}: ${file} does not exist`);
      continue;
    }
    const quoted = [`"${name}"`, `'${name}'`, `\`${name}\``];
    if (!quoted.some((q) => text.includes(q))) wrong.push(`${row.name}: no test named "${name}" in ${file}`);
  }
  assert.deepEqual(wrong, []);
});

Deno.test("pending failure-mode tests are rows that still say none yet", () => {
  const pending = new Set(rows().filter((r) => r.test === "none yet").map((r) => r.name));
  assert.deepEqual([...PENDING_TESTS.keys()].filter((name) => !pending.has(name)), []);
});
