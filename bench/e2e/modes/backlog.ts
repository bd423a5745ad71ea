/**
 * `backlog`: a large backlog on disk (default 6 M lines, about 1 GB over 20 files) read while the endpoint is
 * slow (each answer held `SLOW_ANSWER_MS` for the first `--outage` seconds), then fast. Checks that the agent
 * stays inside `memory_limit` (its own accounting, scraped from /metrics, and its RSS against the runtime's
 * baseline: the same agent on an empty log root, before the backlog is moved in), and that once the endpoint
 * speeds up everything arrives.
 *
 * @module
 */

import { join } from "node:path";
import { writeBacklog } from "../backlog.ts";
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
import { layoutFor } from "./_live.ts";

/** How long the slow endpoint holds each answer. */
const SLOW_ANSWER_MS = 400;

/** Runs the backlog scenario. */
export async function runBacklog(options: ModeOptions): Promise<ModeResult> {
  const files = options.files[0];
  const memoryLimit = options.memoryLimit ?? "32MiB";
  const dirHolder = await Deno.makeTempDir({ prefix: "containerstdout-bench-gen-" });
  const backlog = await writeBacklog(dirHolder, {
    seed: options.seed,
    ...layoutFor(files),
    lines: options.lines,
  });
  const { model, summary } = backlog;
  options.log(`generated ${summary.lines} lines / ${mib(summary.bytes)} MiB in ${summary.files} files`);
  await using run = await BenchRun.create(model, options);
  run.receiver.slowDown(SLOW_ANSWER_MS);

  // The agent starts on an empty log root: its RSS then is the runtime's baseline. The backlog's pod
  // directories are moved in afterwards (a rename each, as kubelet creates them) and found by the watch.
  const port = freeLoopbackPort();
  const { agent, sampler } = await run.startAgent(250, {
    telemetryListen: `127.0.0.1:${port}`,
    extraYaml: `memory_limit: ${memoryLimit}`,
  });
  const scrape = new MetricsScraper(`http://127.0.0.1:${port}/metrics`);
  await waitUntil(() => scrape.latest !== null, { timeoutMs: 60_000, abortOn: agent.exited, pollMs: 50 });
  await delay(2_000);
  const baselineRssMiB = mib(Math.max(...sampler.samples.map((s) => s.rssBytes)));
  for await (const entry of Deno.readDir(dirHolder)) {
    await Deno.rename(join(dirHolder, entry.name), join(run.root, entry.name));
  }
  await Deno.remove(dirHolder, { recursive: true });
  const scraping = scrape.loop(250);
  const slowUntilMs = performance.now() + options.outageSec * 1000;
  await waitUntil(() => performance.now() >= slowUntilMs, {
    timeoutMs: options.outageSec * 1000 + 5_000,
    abortOn: agent.exited,
    pollMs: 100,
  });
  const slowPhase = { ...run.receiver.counts() };
  options.log(`slow phase over: ${slowPhase.matched}/${model.expectedCount} records; endpoint now fast`);
  run.receiver.slowDown(0);
  const outcome = await waitUntil(() => run.receiver.counts().lost === 0, {
    timeoutMs: 60 * 60_000,
    stallMs: 60_000,
    progress: () => run.receiver.counts().received,
    abortOn: agent.exited,
    pollMs: 50,
  });
  await delay(1_000);
  scrape.stop();
  await scraping;
  sampler.sample();
  const peakRssMiB = mib(Math.max(sampler.latest?.hwmBytes ?? 0, ...sampler.samples.map((s) => s.rssBytes)));
  sampler.stop();
  const exit = await agent.stop();
  const counts = run.receiver.counts();
  const limitMiB = mib(parseSize(memoryLimit));
  const accountedPeakMiB = mib(scrape.peak("containerstdout_memory_accounted_bytes"));
  const inflightPeakMiB = mib(scrape.peak("containerstdout_inflight_bytes"));
  const base = await run.baseResult("backlog", model);
  return {
    ...base,
    params: {
      ...summary,
      seed: options.seed,
      memoryLimit,
      slowSec: options.outageSec,
      slowAnswerMs: SLOW_ANSWER_MS,
    },
    metrics: {
      baselineRssMiB,
      peakRssMiB,
      peakRssOverBaselineMiB: round(peakRssMiB - baselineRssMiB),
      memoryLimitMiB: limitMiB,
      accountedPeakMiB: round(accountedPeakMiB),
      inflightPeakMiB: round(inflightPeakMiB),
      heapTotalPeakMiB: round(mib(scrape.peak('containerstdout_process_heap_bytes{kind="total"}'))),
      heapUsedPeakMiB: round(mib(scrape.peak('containerstdout_process_heap_bytes{kind="used"}'))),
      externalPeakMiB: round(mib(scrape.peak('containerstdout_process_heap_bytes{kind="external"}'))),
      backpressurePauses: scrape.last("containerstdout_backpressure_pauses_total"),
      matchedInSlowPhase: slowPhase.matched,
      lost: counts.lost,
      duplicated: counts.duplicated,
      agentExitCode: exit.code,
    },
    targets: [
      target(
        "accounted bytes",
        `<= ${limitMiB} MiB`,
        `${round(accountedPeakMiB)} MiB`,
        accountedPeakMiB <= limitMiB,
      ),
      target(
        "peak RSS",
        `<= memory_limit + baseline (${round(limitMiB + baselineRssMiB)} MiB)`,
        `${peakRssMiB} MiB`,
        peakRssMiB <= limitMiB + baselineRssMiB,
      ),
      target("lost", "0", String(counts.lost), counts.lost === 0),
      target("duplicated", "0", String(counts.duplicated), counts.duplicated === 0),
    ],
    notes: outcome === "done" ? [] : [`wait ended: ${outcome}`],
  };
}

/** A free TCP port on 127.0.0.1 (bound, then released for the agent to take). */
function freeLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** `32MiB` -> bytes (the binary units the config takes). */
function parseSize(text: string): number {
  const m = /^(\d+)(B|KiB|MiB|GiB)$/.exec(text);
  if (m === null) throw new Error(`Invalid --memory-limit: ${text} (e.g. 32MiB)`);
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2] as "B"];
  return Number(m[1]) * unit;
}

/** Polls the agent's /metrics and keeps the latest and peak value (summed over labels) per metric. */
class MetricsScraper {
  latest: Map<string, number> | null = null;
  #peaks = new Map<string, number>();
  #url: string;
  #isStopped = false;

  constructor(url: string) {
    this.#url = url;
    void this.#scrapeOnce();
  }

  async loop(intervalMs: number): Promise<void> {
    while (!this.#isStopped) {
      await this.#scrapeOnce();
      await delay(intervalMs);
    }
    await this.#scrapeOnce();
  }

  stop(): void {
    this.#isStopped = true;
  }

  peak(name: string): number {
    return this.#peaks.get(name) ?? 0;
  }

  last(name: string): number {
    return this.latest?.get(name) ?? 0;
  }

  async #scrapeOnce(): Promise<void> {
    let text: string;
    try {
      const response = await fetch(this.#url);
      text = await response.text();
    } catch {
      return; // not listening yet, or already stopped: the next poll tries again
    }
    const sums = new Map<string, number>();
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const m = /^([a-z_:]+)(?:\{[^}]*\})? (\S+)$/.exec(line);
      if (m === null) continue;
      sums.set(m[1], (sums.get(m[1]) ?? 0) + Number(m[2]));
      if (line.startsWith("containerstdout_process_heap_bytes")) sums.set(line.split(" ")[0], Number(m[2]));
    }
    for (const [name, value] of sums) this.#peaks.set(name, Math.max(this.#peaks.get(name) ?? 0, value));
    this.latest = sums;
  }
}
