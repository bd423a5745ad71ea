import assert from "node:assert/strict";
import { FakeApiServer, makePod, testCerts } from "../_fakes/apiserver.ts";
import { startHarness } from "../_helpers/agent_harness.ts";
import { waitFor } from "../_helpers/agent_process.ts";
import { ContainerLog } from "../_helpers/kubelet_tree.ts";

Deno.test("agent attaches pod metadata and per-line ranks from a real informer over TLS", async () => {
  const certs = await testCerts();
  await using api = await FakeApiServer.start({ tls: true, token: "s3cret" });
  const dir = await Deno.makeTempDir({ prefix: "cso-enrich-" });
  try {
    await Deno.writeTextFile(`${dir}/token`, "s3cret");
    await Deno.writeTextFile(`${dir}/ca.crt`, certs.caPem);
    const uid = crypto.randomUUID();
    api.addPod(makePod({
      name: "trainer-0",
      namespace: "ml",
      uid,
      labels: { "training.kubeflow.org/job-name": "llama-ft", team: "research" },
      ownerReferences: [{ kind: "Job", name: "llama-ft-worker" }],
      containers: [{
        name: "worker",
        image: "registry.example/trainer:2.1",
        env: [{ name: "RANK", value: "4" }],
      }],
    }));
    await using h = await startHarness({
      dir,
      config: {
        node_name: "node-a",
        k8s: {
          mode: "in_cluster",
          api_server: api.url,
          token_path: `${dir}/token`,
          ca_path: `${dir}/ca.crt`,
          pod_labels: ["team"],
        },
      },
    });
    // The informer reports healthy once its first list is in the store.
    await waitFor(() => h.agent.registry.health().isHealthy, {
      message: () => JSON.stringify(h.agent.registry.health()),
    });
    const log = new ContainerLog(h.root, { namespace: "ml", pod: "trainer-0", uid, container: "worker" });
    log.write("stdout", "[rank9]: loss 0.5");
    log.write("stdout", "plain line from the launcher");
    log.close();
    await h.sink.waitForRecords(2);
    const byBody = new Map(h.sink.records.map((r) => [String(r.record.body), r]));
    const ranked = byBody.get("[rank9]: loss 0.5")!;
    assert.equal(ranked.record.attributes["gen_ai.training.rank"], 9);
    assert.equal(ranked.record.attributes["gen_ai.training.rank.source"], "body");
    const plain = byBody.get("plain line from the launcher")!;
    // No per-line prefix: the pod-level sources decide.
    assert.equal(plain.record.attributes["gen_ai.training.rank"], 4);
    assert.equal(plain.record.attributes["gen_ai.training.rank.source"], "env:RANK");
    assert.equal(plain.record.attributes["gen_ai.training.job_id"], "llama-ft");
    assert.equal(plain.resource["k8s.pod.label.team"], "research");
    assert.equal(plain.resource["container.image.name"], "registry.example/trainer");
    assert.equal(plain.resource["container.image.tag"], "2.1");
    assert.equal(plain.resource["k8s.node.name"], "node-a");
    assert.equal(plain.resource["k8s.job.name"], "llama-ft-worker");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
