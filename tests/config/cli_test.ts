import assert from "node:assert/strict";
import { join } from "node:path";
import {
  applyCliOverrides,
  type CliArgs,
  HELP_TEXT,
  parseCliArgs,
  runCheckConfig,
} from "../../src/config/cli.ts";
import type { Config } from "../../src/config/schema.ts";
import { validateConfig } from "../../src/config/validate.ts";

const noEnv = (): undefined => undefined;

const PARSE_CASES: { name: string; args: string[]; want: CliArgs | string }[] = [
  { name: "no flags", args: [], want: { command: "run", configPath: undefined, kubeconfigPath: undefined } },
  {
    name: "--config FILE",
    args: ["--config", "/etc/c.yaml"],
    want: { command: "run", configPath: "/etc/c.yaml", kubeconfigPath: undefined },
  },
  {
    name: "--config=FILE",
    args: ["--config=/etc/c.yaml"],
    want: { command: "run", configPath: "/etc/c.yaml", kubeconfigPath: undefined },
  },
  {
    name: "an inline path starting with a dash",
    args: ["--config=-odd.yaml"],
    want: { command: "run", configPath: "-odd.yaml", kubeconfigPath: undefined },
  },
  {
    name: "--check-config FILE",
    args: ["--check-config", "c.yaml"],
    want: { command: "check_config", configPath: "c.yaml", kubeconfigPath: undefined },
  },
  {
    name: "--kubeconfig with --config",
    args: ["--kubeconfig", "/k", "--config", "c.yaml"],
    want: { command: "run", configPath: "c.yaml", kubeconfigPath: "/k" },
  },
  {
    name: "--kubeconfig with --check-config",
    args: ["--check-config", "c.yaml", "--kubeconfig=/k"],
    want: { command: "check_config", configPath: "c.yaml", kubeconfigPath: "/k" },
  },
  {
    name: "--version",
    args: ["--version"],
    want: { command: "version", configPath: undefined, kubeconfigPath: undefined },
  },
  {
    name: "--help",
    args: ["--help"],
    want: { command: "help", configPath: undefined, kubeconfigPath: undefined },
  },
  { name: "-h", args: ["-h"], want: { command: "help", configPath: undefined, kubeconfigPath: undefined } },
  {
    name: "--help over --config",
    args: ["--config", "c.yaml", "--help"],
    want: { command: "help", configPath: undefined, kubeconfigPath: undefined },
  },
  {
    name: "--version over --check-config",
    args: ["--check-config", "c", "--version"],
    want: { command: "version", configPath: undefined, kubeconfigPath: undefined },
  },
  { name: "an unknown flag", args: ["--verbose"], want: "Unknown flag --verbose (see --help)" },
  {
    name: "a misspelt flag",
    args: ["--confg", "c.yaml"],
    want: "Unknown flag --confg, did you mean --config (see --help)",
  },
  {
    name: "a flag with underscores",
    args: ["--check_config", "c"],
    want: "Unknown flag --check_config, did you mean --check-config (see --help)",
  },
  { name: "a single-dash long flag", args: ["-config", "c"], want: "Unknown flag -c (see --help)" },
  { name: "an unknown short flag", args: ["-v"], want: "Unknown flag -v (see --help)" },
  {
    name: "a flag named like an Object property",
    args: ["--constructor"],
    want: "Unknown flag --constructor (see --help)",
  },
  {
    name: "--config without a value",
    args: ["--config"],
    want: "Flag --config needs a file path (see --help)",
  },
  {
    name: "--config with an empty value",
    args: ["--config="],
    want: "Flag --config needs a file path (see --help)",
  },
  {
    name: "--config followed by a flag",
    args: ["--config", "--help"],
    want: "Flag --config needs a file path (see --help)",
  },
  {
    name: "--kubeconfig without a value",
    args: ["--kubeconfig"],
    want: "Flag --kubeconfig needs a file path (see --help)",
  },
  {
    name: "a value for --version",
    args: ["--version=1"],
    want: "Flag --version takes no value (see --help)",
  },
  {
    name: "a repeated flag",
    args: ["--config", "a", "--config", "b"],
    want: "Flag --config given twice (see --help)",
  },
  { name: "a positional argument", args: ["c.yaml"], want: 'Unexpected argument "c.yaml" (see --help)' },
  {
    name: "a positional argument after --",
    args: ["--", "--config"],
    want: 'Unexpected argument "--config" (see --help)',
  },
  {
    name: "--config with --check-config",
    args: ["--config", "a", "--check-config", "b"],
    want: "Use either --config or --check-config, not both (see --help)",
  },
];

for (const { name, args, want } of PARSE_CASES) {
  Deno.test(`parseCliArgs handles ${name}`, () => {
    const result = parseCliArgs(args);
    if (typeof want === "string") assert.deepEqual(result, { ok: false, message: want });
    else assert.deepEqual(result, { ok: true, value: want });
  });
}

Deno.test("HELP_TEXT names every flag parseCliArgs accepts", () => {
  for (
    const flag of ["--config FILE", "--check-config FILE", "--kubeconfig FILE", "--version", "-h, --help"]
  ) {
    assert.ok(HELP_TEXT.includes(flag), flag);
  }
});

function configWith(raw: unknown): Config {
  const result = validateConfig(raw, { env: noEnv });
  assert.ok(result.ok);
  return result.value;
}

const OVERRIDE_CASES: {
  name: string;
  mode: Config["k8s"]["mode"];
  kubeconfigPath?: string;
  want: [string, string];
}[] = [
  { name: "turns mode auto into kubeconfig", mode: "auto", kubeconfigPath: "/k", want: ["kubeconfig", "/k"] },
  {
    name: "keeps an explicit in_cluster mode",
    mode: "in_cluster",
    kubeconfigPath: "/k",
    want: ["in_cluster", "/k"],
  },
  { name: "keeps an explicit off mode", mode: "off", kubeconfigPath: "/k", want: ["off", "/k"] },
  { name: "changes nothing without --kubeconfig", mode: "auto", want: ["auto", ""] },
];

for (const { name, mode, kubeconfigPath, want } of OVERRIDE_CASES) {
  Deno.test(`applyCliOverrides ${name}`, () => {
    const config = configWith({ k8s: { mode }, tail: { rescan_interval: "2s" } });
    const overridden = applyCliOverrides(config, { kubeconfigPath });
    assert.deepEqual([overridden.k8s.mode, overridden.k8s.kubeconfig], want);
    assert.equal(overridden.tail.rescanIntervalMs, 2_000);
    assert.ok(Object.isFrozen(overridden) && Object.isFrozen(overridden.k8s));
    assert.equal(config.k8s.kubeconfig, "", "the input config is unchanged");
  });
}

async function checkFile(text: string): Promise<{ code: number; lines: string[]; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "config_cli_test_" });
  try {
    const path = join(dir, "config.yaml");
    await Deno.writeTextFile(path, text);
    const lines: string[] = [];
    const code = await runCheckConfig(path, { env: noEnv, stdout: (line) => lines.push(line) });
    return { code, lines, path };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (
  const { name, text } of [
    { name: "a valid file", text: "tail:\n  rescan_interval: 2s\n" },
    { name: "an empty file", text: "" },
  ]
) {
  Deno.test(`runCheckConfig prints ok and returns 0 for ${name}`, async () => {
    const { code, lines } = await checkFile(text);
    assert.deepEqual({ code, lines }, { code: 0, lines: ["ok"] });
  });
}

Deno.test("runCheckConfig prints every problem with its key path and returns 2", async () => {
  const { code, lines } = await checkFile("tail:\n  max_open_files: 0\nstart_at: never\nbogus: 1\n");
  assert.equal(code, 2);
  assert.deepEqual(lines, [
    "bogus: Unknown key (line 4)",
    'start_at: Expected one of beginning, end, got the string "never" (line 3)',
    "tail.max_open_files: Must be at least 1, got 0 (line 2)",
  ]);
});

Deno.test("runCheckConfig prints a YAML syntax error with the file, line and column", async () => {
  const { code, lines, path } = await checkFile("a: 1\na: 2\n");
  assert.equal(code, 2);
  assert.deepEqual(lines, [`${path}:2:1: YAML syntax error: Map keys must be unique`]);
});

Deno.test("runCheckConfig reports a missing file and returns 2", async () => {
  const lines: string[] = [];
  const dir = await Deno.makeTempDir({ prefix: "config_cli_test_" });
  try {
    const code = await runCheckConfig(join(dir, "nope.yaml"), { env: noEnv, stdout: (l) => lines.push(l) });
    assert.equal(code, 2);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /nope\.yaml: Cannot read config file: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
