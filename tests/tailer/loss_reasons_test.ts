/**
 * The loss reasons of the read side that need a file the agent could not read in time, made to happen for
 * real: the read gate (the egress limiter's delay seam) holds a file's bytes while kubelet rotates and
 * deletes it, or keeps a descriptor busy while a waiting file disappears.
 */

import assert from "node:assert/strict";
import { startHarness } from "../_helpers/agent_harness.ts";
import { waitFor } from "../_helpers/agent_process.ts";
import { ContainerLog, fakeUid } from "../_helpers/kubelet_tree.ts";

Deno.test("agent counts drain_deadline for a rotated file deleted with unread bytes while reading was not paused", async () => {
  let isGated = false;
  await using h = await startHarness({
    config: { tail: { drain_deadline: "1s" } },
    readGate: () => isGated ? 50 : 0,
  });
  const log = new ContainerLog(h.root, { namespace: "ml", pod: "p", uid: fakeUid(70), container: "c" });
  for (let i = 0; i < 10; i++) log.write("stdout", `read ${i}`);
  await h.sink.waitForRecords(10);
  isGated = true;
  const line = "u".repeat(100);
  for (let i = 0; i < 100; i++) log.write("stdout", `${i} ${line}`);
  const { rotatedPath } = log.rotate();
  await waitFor(() => h.agent.metrics.rotations.total() > 0, { message: () => h.logs.join("\n") });
  Deno.removeSync(rotatedPath);
  await waitFor(() => h.agent.metrics.bytesLost.get("drain_deadline") > 0, {
    timeoutMs: 15_000,
    message: () => h.logs.join("\n"),
  });
  assert.ok(h.agent.metrics.bytesLost.get("drain_deadline") >= 100 * line.length);
  assert.equal(h.agent.metrics.bytesLost.get("deleted_while_paused"), 0);
  assert.ok(h.logs.some((l) => l.includes("RotationStalled") && l.includes("raised")), "the Kind is raised");
  isGated = false;
  log.close();
});

Deno.test("agent counts vanished_before_open for a file deleted while it waited for a descriptor", async () => {
  let isGated = false;
  await using h = await startHarness({
    config: { tail: { max_open_files: 1 } },
    readGate: () => isGated ? 50 : 0,
  });
  const busy = new ContainerLog(h.root, { namespace: "ml", pod: "busy", uid: fakeUid(80), container: "c" });
  busy.write("stdout", "first");
  await h.sink.waitForRecords(1);
  // The one descriptor stays with `busy`: it has unread bytes the gate holds back.
  isGated = true;
  for (let i = 0; i < 50; i++) busy.write("stdout", `busy ${i}`);
  const waiting = new ContainerLog(h.root, {
    namespace: "ml",
    pod: "waiting",
    uid: fakeUid(81),
    container: "c",
  });
  for (let i = 0; i < 20; i++) waiting.write("stdout", `never read ${i}`);
  await waitFor(
    () => h.agent.snapshot().some((f) => f.path === waiting.path && f.state === "waiting_for_descriptor"),
    {
      message: () => JSON.stringify(h.agent.snapshot()),
    },
  );
  waiting.close();
  Deno.removeSync(waiting.path);
  isGated = false;
  await waitFor(() => h.agent.metrics.bytesLost.get("vanished_before_open") > 0, {
    timeoutMs: 15_000,
    message: () => `${JSON.stringify(h.agent.snapshot())}\n${h.logs.join("\n")}`,
  });
  assert.equal(h.agent.metrics.filesLost.get("vanished_before_open"), 1);
  await h.sink.waitForRecords(51);
  busy.close();
});
