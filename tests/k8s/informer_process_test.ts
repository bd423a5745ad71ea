import assert from "node:assert/strict";
import { FakeApiServer, makePod, testCerts } from "../_fakes/apiserver.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const POD_COUNT = 110;

/** The env allow-list of the agent's production permission set (deno.json "permissions.agent"). */
async function agentEnvAllowList(): Promise<string[]> {
  const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  return denoJson.permissions.agent.env;
}

Deno.test("informer runs in cluster under the agent's env allow-list and holds 110 pods in bounded memory", async () => {
  await using server = await FakeApiServer.start({ tls: true, token: "sa-token" });
  for (let i = 0; i < POD_COUNT; i++) {
    server.addPod(makePod({
      name: `trainer-${i}`,
      namespace: "ml",
      labels: { app: "trainer", "batch.kubernetes.io/job-name": "train", "pod-template-hash": "5c9fb7d6c8" },
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": "x".repeat(2_000) },
      ownerReferences: [{ kind: "Job", name: "train" }],
      containers: [{ name: "worker", image: "pytorch:2", env: [{ name: "RANK", value: String(i) }] }],
    }));
  }
  const dir = await Deno.makeTempDir({ prefix: "informer_process_" });
  try {
    await Deno.writeTextFile(`${dir}/token`, "sa-token");
    await Deno.writeTextFile(`${dir}/ca.crt`, (await testCerts()).caPem);
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        `--config=${ROOT}deno.json`,
        // re2-wasm reads its .wasm through node:fs; a compiled binary reads it from its own VFS instead.
        `--allow-read=${dir},${ROOT}node_modules`,
        `--allow-env=${(await agentEnvAllowList()).join(",")}`,
        "--allow-net",
        `${ROOT}tests/k8s/_informer_probe.ts`,
        `${dir}/token`,
        `${dir}/ca.crt`,
        String(POD_COUNT),
      ],
      env: {
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: new URL(server.url).port,
        K8S_NODE_NAME: "node-a",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    const result = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
    console.log(
      `informer with ${result.pods} pods: RSS ${result.rssSteadyMiB} MiB steady (${result.rssBeforeMiB} MiB before building the stage)`,
    );
    assert.equal(result.pods, POD_COUNT);
    // @kubernetes/client-node alone adds ~85 MiB; the in-cluster path must not load it.
    assert.ok(result.rssSteadyMiB < 120, `RSS ${result.rssSteadyMiB} MiB`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
