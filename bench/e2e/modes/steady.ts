/**
 * `steady`: R lines/s over F files for D seconds with kubelet rotation every S bytes. Reports the agent's
 * CPU in percent of one core and RSS while the writer runs, latency from CRI time to receipt, lost and
 * duplicated records, and rotations.
 *
 * @module
 */

import { delay, mib, type ModeOptions, type ModeResult, round, target, waitUntil } from "../harness.ts";
import { classifyLost, setUpLive } from "./_live.ts";

/** Runs the steady scenario. */
export async function runSteady(options: ModeOptions): Promise<ModeResult> {
  await using live = await setUpLive(options);
  const { run, model, writer, agent, sampler } = live;
  const receiver = run.receiver;
  options.log(
    `writing ${options.linesPerSec} lines/s over ${options.files[0]} files for ${options.durationSec} s`,
  );
  const from = sampler.sample()!;
  await writer.run(options.durationSec * 1000);
  const to = sampler.sample()!;
  const outcome = await waitUntil(() => receiver.counts().lost === 0, {
    timeoutMs: 120_000,
    stallMs: 30_000,
    progress: () => receiver.counts().received,
    abortOn: agent.exited,
  });
  await delay(1000);
  sampler.stop();
  const exit = await agent.stop();
  const window = sampler.window(from, to);
  const counts = receiver.counts();
  const latency = receiver.latency();
  const stats = writer.stats;
  const cpu = round(window.cpuPercentOfCore, 2);
  const maxRssMiB = mib(window.maxRssBytes);
  options.log(`caught up: ${outcome}; ${counts.matched}/${counts.expected} records; cpu ${cpu}%`);
  return {
    ...(await run.baseResult("steady", model)),
    params: {
      files: options.files[0],
      linesPerSec: options.linesPerSec,
      durationSec: options.durationSec,
      rotateBytes: options.rotateBytes,
      seed: options.seed,
    },
    metrics: {
      cpuPercentOfCore: cpu,
      avgRssMiB: mib(window.avgRssBytes),
      maxRssMiB,
      peakRssMiB: mib(sampler.latest?.hwmBytes ?? 0),
      latencyP50Ms: latency.p50Ms,
      latencyP99Ms: latency.p99Ms,
      latencyMaxMs: latency.maxMs,
      writtenLines: stats.lines,
      writeCalls: stats.writes,
      achievedLinesPerSec: Math.round(stats.lines / window.durationSec),
      records: counts.expected,
      lost: counts.lost,
      ...classifyLost(model, writer),
      duplicated: counts.duplicated,
      unexpected: counts.unexpected,
      outOfOrder: counts.outOfOrder,
      resourceMismatch: counts.resourceMismatch,
      rotations: stats.rotations,
      gzipped: stats.gzipped,
      agentExitCode: exit.code,
    },
    targets: [
      target("CPU", "<= 5% of one core", `${cpu}%`, cpu <= 5),
      target("RSS", "<= 80 MiB", `${maxRssMiB} MiB`, maxRssMiB <= 80),
      target("latency p99", "<= 250 ms", `${latency.p99Ms} ms`, latency.p99Ms <= 250),
      target("lost", "0", String(counts.lost), counts.lost === 0),
      target("duplicated", "0", String(counts.duplicated), counts.duplicated === 0),
    ],
    notes: outcome === "done" ? [] : [`catch-up wait ended: ${outcome}`],
  };
}
