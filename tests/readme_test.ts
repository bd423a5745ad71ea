import assert from "node:assert/strict";
import { CONFIG_SCHEMA } from "../src/config/mod.ts";
import { README_URL, renderReadme } from "../src/render_docs.ts";

const readme = Deno.readTextFileSync(README_URL);

Deno.test("README option and metric tables match the schema and the metric catalogue", () => {
  assert.equal(readme, renderReadme(readme), "README tables are stale: run `deno task docs`");
});

Deno.test("README option table names every config key exactly once", () => {
  for (const spec of CONFIG_SCHEMA) {
    const rows = readme.split("\n").filter((l) => l.startsWith(`| \`${spec.key}\` |`));
    assert.equal(rows.length, 1, `${spec.key} appears ${rows.length} times`);
  }
});

Deno.test("README gives the one-command demo and test commands", () => {
  assert.match(readme, /npx -y deno@2\.9\.6 task demo/);
  assert.match(readme, /npx -y deno@2\.9\.6 task test/);
});
