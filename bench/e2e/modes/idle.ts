/**
 * `idle`: F files with content and no writes. After the agent has caught up, its CPU (percent of one
 * core) and RSS are measured over D seconds. One run per file count (default 200 and 1000).
 *
 * @module
 */

import { writeBacklog } from "../backlog.ts";
import {
  BenchRun,
  delay,
  mib,
  type ModeOptions,
  type ModeResult,
  round,
  target,
  type TargetCheck,
  waitUntil,
} from "../harness.ts";
import { layoutFor } from "./_live.ts";

const TARGET_CPU_PERCENT: Record<number, number> = { 200: 0.1, 1000: 0.3 };

/** Runs the idle scenario for each file count. */
export async function runIdle(options: ModeOptions): Promise<ModeResult> {
  const metrics: Record<string, number> = {};
  const targets: TargetCheck[] = [];
  const notes: string[] = [];
  let last: Omit<ModeResult, "params" | "metrics" | "targets"> | undefined;
  for (const files of options.files) {
    const one = await idleOnce(files, options);
    for (const [key, value] of Object.entries(one.metrics)) metrics[`${key}_${files}files`] = value;
    const cpu = one.metrics.cpuPercentOfCore;
    const wanted = TARGET_CPU_PERCENT[files];
    if (wanted !== undefined) {
      targets.push(target(`CPU with ${files} files`, `<= ${wanted}% of one core`, `${cpu}%`, cpu <= wanted));
    }
    targets.push(target(`lost with ${files} files`, "0", String(one.metrics.lost), one.metrics.lost === 0));
    notes.push(...one.notes.map((n) => `${files} files: ${n}`));
    last = one.base;
  }
  return {
    ...last!,
    params: {
      files: options.files,
      linesPerFile: options.lines,
      durationSec: options.durationSec,
      seed: options.seed,
    },
    metrics,
    targets,
    notes,
  };
}

async function idleOnce(
  files: number,
  options: ModeOptions,
): Promise<
  {
    metrics: Record<string, number>;
    notes: string[];
    base: Omit<ModeResult, "params" | "metrics" | "targets">;
  }
> {
  const holder = await Deno.makeTempDir({ prefix: "containerstdout-bench-gen-" });
  const { model, summary } = await writeBacklog(holder, {
    seed: options.seed,
    ...layoutFor(files),
    lines: files * options.lines,
  });
  await using run = await BenchRun.create(model, options);
  await Deno.remove(run.root);
  await Deno.rename(holder, run.root);
  const { agent, sampler } = await run.startAgent(1000);
  const receiver = run.receiver;
  const outcome = await waitUntil(() => receiver.counts().lost === 0, {
    timeoutMs: 300_000,
    stallMs: 60_000,
    progress: () => receiver.counts().received,
    abortOn: agent.exited,
  });
  const caughtUpSec = (performance.now() - agent.spawnedAtMs) / 1000;
  options.log(
    `${files} files: caught up (${outcome}) in ${round(caughtUpSec)} s; measuring ${options.durationSec} s`,
  );
  // Let the last cursor commit and batch timers settle before the window opens.
  await delay(5000);
  const receivedBefore = receiver.counts().received;
  const from = sampler.sample()!;
  await delay(options.durationSec * 1000);
  const to = sampler.sample()!;
  sampler.stop();
  const exit = await agent.stop();
  const window = sampler.window(from, to);
  const counts = receiver.counts();
  const cpu = round(window.cpuPercentOfCore, 3);
  options.log(`${files} files: cpu ${cpu}% of one core, rss ${mib(window.maxRssBytes)} MiB`);
  return {
    metrics: {
      cpuPercentOfCore: cpu,
      cpuSec: round(window.cpuSec, 3),
      avgRssMiB: mib(window.avgRssBytes),
      maxRssMiB: mib(window.maxRssBytes),
      peakRssMiB: mib(to.hwmBytes),
      catchUpSec: round(caughtUpSec, 2),
      records: summary.records,
      lost: counts.lost,
      duplicated: counts.duplicated,
      unexpected: counts.unexpected,
      receivedWhileIdle: counts.received - receivedBefore,
      agentExitCode: exit.code ?? -1,
    },
    notes: outcome === "done" ? [] : [`catch-up wait ended: ${outcome}`],
    base: await run.baseResult("idle", model),
  };
}
