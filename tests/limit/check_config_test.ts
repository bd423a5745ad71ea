import assert from "node:assert/strict";
import { agentPermissionFlags } from "../_helpers/agent_process.ts";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;

async function checkConfig(yaml: string): Promise<{ code: number; lines: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "cso-limit-check-" });
  try {
    await Deno.writeTextFile(`${dir}/c.yaml`, yaml);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...agentPermissionFlags([dir], []), "src/main.ts", "--check-config", `${dir}/c.yaml`],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    return { code: out.code, lines: new TextDecoder().decode(out.stdout).trim().split("\n") };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("main --check-config accepts the egress_rate_limit example of issue 11", async () => {
  const r = await checkConfig(`
egress_rate_limit:
  default:            { records_per_second: 5000, bytes_per_second: 8MiB, burst_records: 10000, on_limit: delay }
  namespace_budgets:
    batch-jobs:       { records_per_second: 200, burst_records: 400, on_limit: drop }
  max_keys: 1000
`);
  assert.deepEqual(r, { code: 0, lines: ["ok"] });
});

Deno.test("main --check-config rejects rates <= 0, bursts < 1 record and on_limit not drop|delay, all at once", async () => {
  const r = await checkConfig(`
egress_rate_limit:
  default: { records_per_second: 0, on_limit: block }
  namespace_budgets:
    batch-jobs: { records_per_second: 200, burst_records: 0, bytes_per_second: -1MiB }
    any-name-at-all: { records_per_second: 1 }
`);
  assert.equal(r.code, 2);
  assert.deepEqual(r.lines.map((l) => l.slice(0, l.indexOf(":"))).sort(), [
    "egress_rate_limit.default.on_limit",
    "egress_rate_limit.default.records_per_second",
    "egress_rate_limit.namespace_budgets.batch-jobs.burst_records",
    "egress_rate_limit.namespace_budgets.batch-jobs.bytes_per_second",
  ]);
});
