/**
 * Shared set-up of the live modes (steady, restart, outage): an empty tree of `files` containers, a live
 * writer with kubelet-style rotation, the receiver measuring latency, and the agent started and ready.
 *
 * @module
 */

import type { AgentProcess } from "../agent_process.ts";
import { ExpectedModel } from "../expected.ts";
import { planTree } from "../generator.ts";
import { BenchRun, delay, type ModeOptions, waitForAgentStart } from "../harness.ts";
import { LiveWriter } from "../live_writer.ts";
import type { ProcSampler } from "../proc_sampler.ts";

/** A live scenario ready to write. */
export interface LiveScenario extends AsyncDisposable {
  run: BenchRun;
  model: ExpectedModel;
  writer: LiveWriter;
  agent: AgentProcess;
  sampler: ProcSampler;
}

/** Plans `files` containers (two per pod when even). */
export function layoutFor(files: number): { pods: number; containersPerPod: number } {
  return files % 2 === 0 ? { pods: files / 2, containersPerPod: 2 } : { pods: files, containersPerPod: 1 };
}

/** Creates the tree, receiver, writer and agent; resolves once the agent has started and seen the files. */
export async function setUpLive(options: ModeOptions): Promise<LiveScenario> {
  const tree = { seed: options.seed, ...layoutFor(options.files[0]) };
  const files = planTree(tree);
  // Times are relative to a whole second just before now, so float nanoseconds stay exact.
  const model = new ExpectedModel(files, Math.floor(Date.now() / 1000) - 1);
  const run = await BenchRun.create(model, options, { measureLatency: true });
  const writer = new LiveWriter({
    ...tree,
    root: run.root,
    files,
    model,
    linesPerSec: options.linesPerSec,
    rotateBytes: options.rotateBytes,
  });
  await writer.open();
  const { agent, sampler } = await run.startAgent();
  const started = await waitForAgentStart(agent);
  if (started !== "done") {
    await run.close();
    throw new Error(`Agent did not start: ${started}; last log lines:\n${agent.logTail.join("\n")}`);
  }
  // Give discovery one look at the (empty) files before the first line is written.
  await delay(1000);
  return {
    run,
    model,
    writer,
    agent,
    sampler,
    async [Symbol.asyncDispose](): Promise<void> {
      writer.close();
      await run.close();
    },
  };
}

/** Now, in the model's time base (ns since its base second). */
export function modelNowNs(model: ExpectedModel): number {
  return Math.round((performance.timeOrigin + performance.now() - model.baseEpochSec * 1000) * 1e6);
}

/** Lost records by the cause the bench can tell from their write time. */
export interface LostBreakdown {
  /** Written between a rotation's rename and the runtime's reopen: they sit at the rotated file's end. */
  lostAfterRename: number;
  /** Written while the agent was down (restart mode). */
  lostWhileAgentDown: number;
  lostOther: number;
}

/** Splits the lost records by write time: after a rename (before the reopen), while the agent was down. */
export function classifyLost(
  model: ExpectedModel,
  writer: LiveWriter,
  agentDown?: { fromNs: number; toNs: number },
): LostBreakdown {
  const out: LostBreakdown = { lostAfterRename: 0, lostWhileAgentDown: 0, lostOther: 0 };
  for (const lost of model.lostRecords()) {
    const t = lost.timeNs;
    if (writer.reopenWindows(lost.fileIndex).some((w) => t >= w.fromNs && t <= w.toNs)) out.lostAfterRename++;
    else if (agentDown !== undefined && t >= agentDown.fromNs && t <= agentDown.toNs) {
      out.lostWhileAgentDown++;
    } else out.lostOther++;
  }
  return out;
}
