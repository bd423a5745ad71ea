import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfigFile, parseConfigYaml } from "../../src/config/load.ts";
import { ConfigError, type ConfigProblem, validateConfig } from "../../src/config/validate.ts";

const noEnv = (): undefined => undefined;

async function withTempFile(text: string, body: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "config_load_test_" });
  try {
    const path = join(dir, "config.yaml");
    await Deno.writeTextFile(path, text);
    await body(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function problemsOf(path: string): Promise<readonly ConfigProblem[]> {
  const error = await loadConfigFile(path, { env: noEnv }).then(
    () => assert.fail("expected a ConfigError"),
    (thrown: unknown) => thrown,
  );
  assert.ok(error instanceof ConfigError, String(error));
  return error.problems;
}

const DEFAULTS = (() => {
  const result = validateConfig({}, { env: noEnv });
  assert.ok(result.ok);
  return result.value;
})();

for (
  const { name, text } of [
    { name: "an empty file", text: "" },
    { name: "a file of comments", text: "# nothing set\n# still nothing\n" },
    { name: "an explicit empty document", text: "---\n" },
    { name: "a document that is null", text: "~\n" },
  ]
) {
  Deno.test(`loadConfigFile reads ${name} as all defaults`, async () => {
    await withTempFile(text, async (path) => {
      assert.deepEqual(await loadConfigFile(path, { env: noEnv }), DEFAULTS);
    });
  });
}

Deno.test("loadConfigFile reads a YAML file with nested sections and env references", async () => {
  const text = [
    "include:",
    "  - /var/log/pods/*/*/*.log",
    "exporter:",
    "  endpoint: ${env:OTLP_ENDPOINT}",
    "  headers:",
    "    authorization: Bearer ${env:TOKEN}",
    "  retry:",
    "    max_elapsed: 1h",
    "tail:",
    "  rescan_interval: 2s",
    "",
  ].join("\n");
  const env = (name: string): string | undefined =>
    ({ OTLP_ENDPOINT: "https://otel:4318/", TOKEN: "t0k" })[name];
  await withTempFile(text, async (path) => {
    const config = await loadConfigFile(path, { env });
    assert.equal(config.exporter.endpoint, "https://otel:4318");
    assert.equal(config.exporter.headers.authorization, "Bearer t0k");
    assert.equal(config.exporter.retryMaxElapsedMs, 3_600_000);
    assert.equal(config.tail.rescanIntervalMs, 2_000);
    assert.ok(Object.isFrozen(config.exporter));
  });
});

Deno.test("loadConfigFile names a missing file in its ConfigError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "config_load_test_" });
  try {
    const path = join(dir, "absent.yaml");
    const problems = await problemsOf(path);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].path, path);
    assert.match(problems[0].message, /^Cannot read config file: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const SYNTAX_CASES: { name: string; text: string; line: number; col: number; fragment: string }[] = [
  {
    name: "a duplicate key",
    text: "start_at: end\nstart_at: beginning\n",
    line: 2,
    col: 1,
    fragment: "unique",
  },
  { name: "an unclosed flow list", text: "include: [/a\n", line: 2, col: 1, fragment: "Flow sequence" },
  { name: "a tab as indentation", text: "tail:\n\trescan_interval: 1s\n", line: 2, col: 1, fragment: "Tabs" },
  { name: "a bad escape", text: 'node_name: "\\q"\n', line: 1, col: 13, fragment: "escape" },
  {
    name: "two documents",
    text: "start_at: end\n---\nstart_at: end\n",
    line: 2,
    col: 1,
    fragment: "multiple documents",
  },
  { name: "an unknown tag", text: "start_at: !custom end\n", line: 1, col: 11, fragment: "Unresolved tag" },
];

for (const { name, text, line, col, fragment } of SYNTAX_CASES) {
  Deno.test(`loadConfigFile reports ${name} with its line and column`, async () => {
    await withTempFile(text, async (path) => {
      const problems = await problemsOf(path);
      assert.equal(problems[0].path, `${path}:${line}:${col}`, JSON.stringify(problems));
      assert.match(problems[0].message, /^YAML syntax error: /);
      assert.ok(problems[0].message.includes(fragment), problems[0].message);
    });
  });
}

Deno.test("parseConfigYaml reports an alias to a missing anchor as a YAML error", () => {
  const result = parseConfigYaml("include: *nowhere\n", { env: noEnv, sourceName: "c.yaml" });
  assert.ok(!result.ok);
  assert.equal(result.errors[0].path, "c.yaml");
  assert.match(result.errors[0].message, /^YAML error: /);
});

Deno.test("parseConfigYaml expands aliases like any other value", () => {
  const result = parseConfigYaml("include: &logs [/a/*.log]\nexclude: *logs\n", { env: noEnv });
  assert.ok(result.ok);
  assert.deepEqual(result.value.exclude, ["/a/*.log"]);
});

Deno.test("parseConfigYaml reports a binary value as a wrong type", () => {
  const result = parseConfigYaml("node_name: !!binary aGVsbG8=\n", { env: noEnv });
  assert.ok(!result.ok);
  assert.equal(result.errors[0].path, "node_name");
  assert.match(result.errors[0].message, /^Expected a string, got a value of type /);
});

Deno.test("parseConfigYaml adds the line of each problem it can find in the document", () => {
  const text = [
    "tail:", // 1
    "  max_open_file: 3", // 2
    "include:", // 3
    "  - /ok/*.log", // 4
    "  - relative/*.log", // 5
    "exporter:", // 6
    "  headers:", // 7
    "    x.dotted.name: 7", // 8
    "attribution:", // 9
    "  rank_source: [body, nope]", // 10
    "",
  ].join("\n");
  const result = parseConfigYaml(text, { env: noEnv });
  assert.ok(!result.ok);
  assert.deepEqual(result.errors.map((e) => [e.path, e.message.match(/\(line (\d+)\)$/)?.[1]]), [
    ["tail.max_open_file", "2"],
    ["include[1]", "5"],
    ["exporter.headers", "7"],
    ["attribution.rank_source[1]", "10"],
  ]);
});

Deno.test("parseConfigYaml adds no line to a problem about the whole document", () => {
  const result = parseConfigYaml("- a\n- b\n", { env: noEnv });
  assert.ok(!result.ok);
  assert.deepEqual(result.errors, [{ path: "", message: "Expected a mapping of options, got a list" }]);
});

Deno.test("parseConfigYaml reads YAML 1.2 scalars: yes is a string, 0x10 is a number", () => {
  const result = parseConfigYaml("start_at: yes\ntail:\n  max_open_files: 0x10\n", { env: noEnv });
  assert.ok(!result.ok);
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0].path, "start_at");
  const ok = parseConfigYaml("tail:\n  max_open_files: 0x10\n", { env: noEnv });
  assert.ok(ok.ok && ok.value.tail.maxOpenFiles === 16);
});

async function parseInChild(text: string, allowedEnv: string[]): Promise<unknown> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
      `--allow-env=${allowedEnv.join(",")}`,
      new URL("./_parse_stdin_child.ts", import.meta.url).pathname,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

Deno.test("parseConfigYaml parses under a permission set that allows only its known variables", async () => {
  const allowed = ["K8S_NODE_NAME", "KUBECONFIG", "LOG_TOKENS", "LOG_STREAM"];
  assert.deepEqual(await parseInChild("tail:\n  rescan_interval: 2s\n", allowed), { ok: true });
});

Deno.test("parseConfigYaml names the variables the yaml parser needs when the permissions hide them", async () => {
  const result = await parseInChild("start_at: end\n", ["K8S_NODE_NAME", "KUBECONFIG"]) as {
    errors: { path: string; message: string }[];
  };
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0].path, "stdin");
  assert.match(result.errors[0].message, /^Cannot parse YAML: .*LOG_TOKENS and LOG_STREAM\)$/);
});
