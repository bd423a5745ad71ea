/**
 * `outage`: the steady scenario with the OTLP endpoint answering 503 (or not listening) for a while in
 * the middle. The agent must hold the bytes in the files (backpressure) and deliver everything after.
 *
 * @module
 */

import { delay, mib, type ModeOptions, type ModeResult, round, target, waitUntil } from "../harness.ts";
import { classifyLost, setUpLive } from "./_live.ts";

/** Runs the outage scenario. */
export async function runOutage(options: ModeOptions): Promise<ModeResult> {
  await using live = await setUpLive(options);
  const { run, model, writer, agent, sampler } = live;
  const receiver = run.receiver;
  const durationMs = options.durationSec * 1000;
  const outageMs = Math.min(options.outageSec * 1000, durationMs);
  const outageAtMs = Math.max(0, (durationMs - outageMs) / 2);
  options.log(
    `writing for ${options.durationSec} s; endpoint ${options.outageKind} for ${outageMs / 1000} s`,
  );
  const writing = writer.run(durationMs);
  await delay(outageAtMs);
  const before = sampler.sample()!;
  const refusedBefore = receiver.counts().refusedRequests;
  if (options.outageKind === "down") await receiver.goDown();
  else receiver.answerWith("unavailable");
  await delay(outageMs);
  const during = sampler.sample()!;
  // The backlog is every record written before recovery, by its CRI time; it is delivered when the last
  // of them has arrived (known once everything has: a later one may still be on its way before that).
  const recoveredAtMs = receiver.nowMs();
  receiver.trackBacklogUntil(recoveredAtMs);
  if (options.outageKind === "down") await receiver.comeUp();
  else receiver.answerWith("ok");
  await writing;
  const outcome = await waitUntil(() => receiver.counts().lost === 0, {
    timeoutMs: 300_000,
    stallMs: 60_000,
    progress: () => receiver.counts().received,
    abortOn: agent.exited,
  });
  const recoverySec = Math.max(0, receiver.lastBacklogMatchAtMs() - recoveredAtMs) / 1000;
  await delay(1000);
  sampler.stop();
  const exit = await agent.stop();
  const counts = receiver.counts();
  const latency = receiver.latency();
  const outageWindow = sampler.window(before, during);
  options.log(
    `after outage: ${outcome}; ${counts.matched}/${counts.expected}; refused ${counts.refusedRequests}`,
  );
  return {
    ...(await run.baseResult("outage", model)),
    params: {
      files: options.files[0],
      linesPerSec: options.linesPerSec,
      durationSec: options.durationSec,
      outageSec: outageMs / 1000,
      outageKind: options.outageKind,
      rotateBytes: options.rotateBytes,
      seed: options.seed,
    },
    metrics: {
      lost: counts.lost,
      ...classifyLost(model, writer),
      duplicated: counts.duplicated,
      unexpected: counts.unexpected,
      outOfOrder: counts.outOfOrder,
      resourceMismatch: counts.resourceMismatch,
      refusedRequests: counts.refusedRequests - refusedBefore,
      backlogDeliveredAfterSec: round(recoverySec, 2),
      cpuPercentOfCoreDuringOutage: round(outageWindow.cpuPercentOfCore, 2),
      maxRssMiBDuringOutage: mib(outageWindow.maxRssBytes),
      peakRssMiB: mib(sampler.latest?.hwmBytes ?? 0),
      latencyP50Ms: latency.p50Ms,
      latencyP99Ms: latency.p99Ms,
      latencyMaxMs: latency.maxMs,
      rotations: writer.stats.rotations,
      records: counts.expected,
      agentExitCode: exit.code,
    },
    targets: [target("lost", "0", String(counts.lost), counts.lost === 0)],
    notes: outcome === "done" ? [] : [`catch-up wait ended: ${outcome}`],
  };
}
