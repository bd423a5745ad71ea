import assert from "node:assert/strict";
import { REFERENCE_URL, renderReference } from "../../src/config/render_reference.ts";
import { parseConfigYaml } from "../../src/config/load.ts";
import { CONFIG_SCHEMA } from "../../src/config/schema.ts";
import { validateConfig } from "../../src/config/validate.ts";

const noEnv = (): undefined => undefined;

Deno.test("docs/configuration.md is the current rendering of the schema", async () => {
  const checkedIn = await Deno.readTextFile(REFERENCE_URL);
  assert.ok(
    checkedIn === renderReference(CONFIG_SCHEMA),
    "docs/configuration.md is stale: run deno task docs",
  );
});

Deno.test("renderReference gives every option exactly one table row", () => {
  const markdown = renderReference(CONFIG_SCHEMA);
  for (const { key } of CONFIG_SCHEMA) {
    const rows = markdown.split("\n").filter((line) => line.startsWith(`| \`${key}\` |`));
    assert.equal(rows.length, 1, key);
    assert.equal(rows[0].replaceAll("\\|", "").split("|").length, 7, `${key} row has five cells`);
  }
});

Deno.test("renderReference's default YAML block validates to the default config", () => {
  const markdown = renderReference(CONFIG_SCHEMA);
  const yaml = markdown.match(/```yaml\n([\s\S]*?)```/)?.[1];
  assert.ok(yaml !== undefined);
  const fromDocs = parseConfigYaml(yaml, { env: noEnv });
  assert.deepEqual(fromDocs, validateConfig({}, { env: noEnv }));
});
