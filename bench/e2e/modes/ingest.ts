/**
 * `ingest`: a backlog of N lines already on disk when the agent starts (start_at: beginning). Reports
 * wall time to the last record, records/s, records per agent CPU-second and peak RSS.
 *
 * @module
 */

import { writeBacklog } from "../backlog.ts";
import { readProcSample } from "../proc_sampler.ts";
import { layoutFor } from "./_live.ts";
import {
  BenchRun,
  delay,
  mib,
  type ModeOptions,
  type ModeResult,
  round,
  target,
  waitUntil,
} from "../harness.ts";

/** Runs the ingest scenario. */
export async function runIngest(options: ModeOptions): Promise<ModeResult> {
  const files = options.files[0];
  const tree = { seed: options.seed, ...layoutFor(files) };
  const genStartMs = performance.now();
  const dirHolder = await Deno.makeTempDir({ prefix: "containerstdout-bench-gen-" });
  // The backlog goes straight into the run's root; the model is needed before the receiver starts.
  const backlog = await writeBacklog(dirHolder, { ...tree, lines: options.lines });
  const generateSec = (performance.now() - genStartMs) / 1000;
  const { model, summary } = backlog;
  options.log(
    `generated ${summary.lines} lines / ${summary.records} records / ${mib(summary.bytes)} MiB in ` +
      `${summary.files} files (${round(generateSec)} s)`,
  );
  await using run = await BenchRun.create(model, options);
  await Deno.remove(run.root);
  await Deno.rename(dirHolder, run.root);

  const benchCpuBefore = readProcSample(Deno.pid, run.ticksPerSec, false)?.cpuSec ?? 0;
  const { agent, sampler } = await run.startAgent();
  const spawnEpochMs = performance.timeOrigin + agent.spawnedAtMs;
  const receiver = run.receiver;
  const outcome = await waitUntil(() => receiver.counts().lost === 0, {
    timeoutMs: 30 * 60_000,
    stallMs: 60_000,
    progress: () => receiver.counts().received,
    abortOn: agent.exited,
    pollMs: 20,
  });
  const done = sampler.sample() ?? sampler.latest!;
  const benchCpuSec = (readProcSample(Deno.pid, run.ticksPerSec, false)?.cpuSec ?? 0) - benchCpuBefore;
  const first = sampler.samples[0];
  options.log(`agent ${outcome}: ${receiver.counts().matched}/${model.expectedCount} records`);
  // Let late duplicates arrive before the final count, then stop the agent cleanly.
  await delay(1_000);
  sampler.sample();
  const peak = sampler.latest ?? done;
  sampler.stop();
  const exit = await agent.stop();
  options.log(`agent exited with ${exit.code}${exit.signal === null ? "" : ` (${exit.signal})`}`);

  const times = receiver.matchTimesMs;
  // No record at all leaves both times at 0: report zeros rather than negative durations.
  const wallSec = times.last === 0 ? 0 : (times.last - spawnEpochMs) / 1000;
  const firstRecordSec = times.first === 0 ? 0 : (times.first - spawnEpochMs) / 1000;
  const counts = receiver.counts();
  const cpuSec = done.cpuSec - first.cpuSec;
  const recordsPerCpuSec = cpuSec > 0 ? counts.matched / cpuSec : 0;
  const peakRssMiB = mib(Math.max(peak.hwmBytes, ...sampler.samples.map((s) => s.rssBytes)));
  const base = await run.baseResult("ingest", model);
  return {
    ...base,
    params: { ...summary, seed: options.seed, generateSec: round(generateSec) },
    metrics: {
      wallSec: round(wallSec, 2),
      firstRecordSec: round(firstRecordSec, 2),
      recordsPerSec: Math.round(counts.matched / Math.max(wallSec, 1e-9)),
      linesPerSec: Math.round(summary.lines / Math.max(wallSec, 1e-9)),
      mibPerSec: round(mib(summary.bytes) / Math.max(wallSec, 1e-9)),
      cpuSec: round(cpuSec, 2),
      cpuSecAfterFirstRecord: round(
        done.cpuSec - cpuAt(sampler.samples, agent.spawnedAtMs + firstRecordSec * 1000),
        2,
      ),
      recordsPerCpuSec: Math.round(recordsPerCpuSec),
      peakRssMiB,
      benchProcessCpuSec: round(benchCpuSec, 2),
      lost: counts.lost,
      duplicated: counts.duplicated,
      unexpected: counts.unexpected,
      outOfOrder: counts.outOfOrder,
      resourceMismatch: counts.resourceMismatch,
      agentExitCode: exit.code,
    },
    targets: [
      target(
        "records per CPU-second",
        ">= 420000",
        String(Math.round(recordsPerCpuSec)),
        recordsPerCpuSec >= 420_000,
      ),
      target("peak RSS", "<= 150 MiB", `${peakRssMiB} MiB`, peakRssMiB <= 150),
      target("lost", "0", String(counts.lost), counts.lost === 0),
      target("duplicated", "0", String(counts.duplicated), counts.duplicated === 0),
    ],
    notes: outcome === "done" ? [] : [`wait ended: ${outcome}`],
  };
}

/** CPU seconds at the last sample taken at or before `atMs`. */
function cpuAt(samples: readonly { atMs: number; cpuSec: number }[], atMs: number): number {
  let cpuSec = samples[0]?.cpuSec ?? 0;
  for (const s of samples) if (s.atMs <= atMs) cpuSec = s.cpuSec;
  return cpuSec;
}
