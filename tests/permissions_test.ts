/**
 * The agent under exactly its production permission set (`deno run -P=agent`, plus read/write grants for
 * the test's temp dirs only, no `--allow-net`): it ships records to an OTLP endpoint the set allows, and
 * a host or path the set does not allow fails the start with one clear line instead of a stack trace.
 */

import assert from "node:assert/strict";
import { type OtlpSink, startOtlpSink } from "./_fakes/otlp_sink.ts";
import { agentPermissionSet, spawnAgent, waitFor } from "./_helpers/agent_process.ts";
import { ContainerLog, fakeUid } from "./_helpers/kubelet_tree.ts";

/**
 * A sink on a random address of 127.0.0.0/8 at port 4318: the set allows `127.0.0.0/8:4318` (a node-local
 * collector), and a random address keeps parallel test runs on this machine from colliding on the port.
 */
function startSinkOnAllowedPort(): Promise<OtlpSink> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const hostname = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${
      1 + Math.floor(Math.random() * 250)
    }`;
    try {
      return startOtlpSink({ hostname, port: 4318 });
    } catch (err) {
      if (!(err instanceof Deno.errors.AddrInUse)) throw err;
    }
  }
  throw new Error("No free 127.x.y.z:4318 after 20 tries");
}

interface Dirs extends AsyncDisposable {
  root: string;
  logs: string;
  cursor: string;
}

async function tempDirs(): Promise<Dirs> {
  const root = await Deno.makeTempDir({ prefix: "permissions_test_" });
  await Deno.mkdir(`${root}/logs`);
  await Deno.mkdir(`${root}/cursor`);
  return {
    root,
    logs: `${root}/logs`,
    cursor: `${root}/cursor`,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/** The test's config: top-level keys of `overrides` (flow-style YAML values) replace the base ones. */
function configYaml(d: Dirs, overrides: Record<string, string>): string {
  const base: Record<string, string> = {
    include: `["${d.logs}/*/*/*.log"]`,
    cursor: `{ path: "${d.cursor}/cursor.kv", flush_interval: 200ms }`,
    batch: "{ max_delay: 50ms }",
    telemetry: '{ listen: "" }',
    k8s: "{ mode: off }",
    tail: "{ rescan_interval: 200ms }",
  };
  return Object.entries({ ...base, ...overrides }).map(([k, v]) => `${k}: ${v}`).join("\n");
}

/** Runs the agent under the exact set until it exits by itself (a start failure) and returns its log. */
async function runUntilExit(d: Dirs, config: Record<string, string>): Promise<{ code: number; log: string }> {
  await Deno.writeTextFile(`${d.root}/config.yaml`, configYaml(d, config));
  await using agent = spawnAgent({
    configPath: `${d.root}/config.yaml`,
    readPaths: [`${d.root}/config.yaml`, d.logs, d.cursor],
    writePaths: [d.cursor],
    isLoopbackOpen: false,
  });
  const code = await agent.exited;
  // Log lines are JSON; compare their messages unescaped (Deno's own warnings are plain text).
  const messages = agent.logLines.map((line) => {
    try {
      return String(JSON.parse(line).msg);
    } catch {
      return line;
    }
  });
  return { code, log: messages.join("\n") };
}

Deno.test("the agent permission set names its hosts instead of allowing every host", () => {
  const net = agentPermissionSet().net;
  assert.ok(Array.isArray(net), `permissions.agent.net is ${JSON.stringify(net)}, not a list of hosts`);
  assert.ok(net.includes("kubernetes.default.svc:443"), "the in-cluster API server name is allowed");
  assert.ok(net.includes("*.svc.cluster.local:4318"), "in-cluster OTLP/HTTP services are allowed");
  assert.ok(net.includes("0.0.0.0:9464"), "the chart's telemetry listener is allowed");
});

Deno.test("the agent under exactly its permission set ships records to an allowed endpoint", async () => {
  await using d = await tempDirs();
  await using sink = await startSinkOnAllowedPort();
  const log = new ContainerLog(d.logs, { namespace: "ml", pod: "p", uid: fakeUid(1), container: "c" });
  for (let i = 0; i < 50; i++) log.write("stdout", `line ${i}`);
  await Deno.writeTextFile(
    `${d.root}/config.yaml`,
    configYaml(d, { exporter: `{ endpoint: "${sink.url}" }` }),
  );
  await using agent = spawnAgent({
    configPath: `${d.root}/config.yaml`,
    readPaths: [`${d.root}/config.yaml`, d.logs, d.cursor],
    writePaths: [d.cursor],
    isLoopbackOpen: false,
  });
  await waitFor(() => sink.records.length >= 50, {
    timeoutMs: 20_000,
    message: () => `${sink.records.length} of 50 records; agent log:\n${agent.logLines.join("\n")}`,
  });
  assert.deepEqual(
    new Set(sink.records.map((r) => String(r.record.body))),
    new Set(Array.from({ length: 50 }, (_, i) => `line ${i}`)),
  );
  log.close();
  assert.equal(await agent.stop(), 0);
});

interface RefusalCase {
  name: string;
  config: (d: Dirs) => Record<string, string>;
  setUp?: (d: Dirs) => Promise<void>;
  want: (d: Dirs) => string;
}

const REFUSAL_CASES: RefusalCase[] = [
  {
    name: "an OTLP endpoint outside the allowed hosts",
    config: () => ({ exporter: '{ endpoint: "http://collector.example.com:4318" }' }),
    want: () =>
      "Cannot connect to collector.example.com:4318 (exporter.endpoint): the agent's network permission does " +
      'not allow it; add "collector.example.com:4318" to permissions.agent.net in deno.json (deno task start), ' +
      "or build the image with --build-arg ALLOWED_NET_HOSTS=collector.example.com:4318",
  },
  {
    name: "an API server outside the allowed hosts",
    setUp: async (d) => {
      await Deno.writeTextFile(`${d.logs}/token`, "t\n");
      await Deno.writeTextFile(`${d.logs}/ca.crt`, "not needed before the check\n");
    },
    config: (d) => ({
      k8s: `{ mode: in_cluster, api_server: "https://10.96.0.1:443", token_path: "${d.logs}/token", ` +
        `ca_path: "${d.logs}/ca.crt" }`,
      node_name: "node-a",
    }),
    want: () =>
      "Cannot connect to 10.96.0.1:443 (k8s.api_server): the agent's network permission does not allow it",
  },
  {
    name: "a telemetry listener outside the allowed addresses",
    config: () => ({ telemetry: '{ listen: "127.0.0.1:9999" }' }),
    want: () => "Cannot listen on 127.0.0.1:9999 (telemetry.listen): the agent's network permission does not",
  },
  {
    name: "a log root outside the allowed read paths",
    config: (d) => ({ include: `["${d.root}/elsewhere/*/*/*.log"]` }),
    want: (d) =>
      `Cannot read ${d.root}/elsewhere (include): the agent's read permission does not allow it; add ` +
      `"${d.root}/elsewhere" to permissions.agent.read in deno.json`,
  },
  {
    name: "a cursor store outside the allowed write paths",
    config: (d) => ({ cursor: `{ path: "${d.logs}/cursor.kv" }` }),
    want: (d) =>
      `Cannot write ${d.logs} (cursor.path): the agent's write permission does not allow it; add ` +
      `"${d.logs}" to permissions.agent.write in deno.json`,
  },
];

for (const c of REFUSAL_CASES) {
  Deno.test(`the agent under its permission set refuses to start with ${c.name}, in one clear line`, async () => {
    await using d = await tempDirs();
    await c.setUp?.(d);
    const { code, log } = await runUntilExit(d, c.config(d));
    assert.equal(code, 1, log);
    assert.ok(log.includes(c.want(d)), `want ${JSON.stringify(c.want(d))} in:\n${log}`);
    assert.doesNotMatch(log, /^\s+at /m, "no stack trace");
    assert.doesNotMatch(log, /Agent started/, "fails before starting anything");
  });
}
