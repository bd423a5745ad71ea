/**
 * `restart`: the steady scenario with a SIGKILL of the agent at a random (seeded) moment, a kubelet
 * rotation of every file while it is down, and a restart on the same cursor. Nothing may be lost; the
 * records resent after the restart are reported as duplicates.
 *
 * @module
 */

import { join } from "node:path";
import { CursorStore } from "../../../src/cursor/mod.ts";
import { mixSeed, Prng } from "../generator.ts";
import { delay, mib, type ModeOptions, type ModeResult, round, target, waitUntil } from "../harness.ts";
import { classifyLost, modelNowNs, setUpLive } from "./_live.ts";

/**
 * How long an answered request's acknowledgement may still be on its way into the agent's cursor state
 * when a commit begins: loopback delivery plus at most one turn of the agent's event loop (a read turn is
 * capped at about 20-40 ms of work). Records answered this long before the last commit count as in flight.
 */
const IN_TRANSIT_MS = 50;

/** Runs the restart scenario. */
export async function runRestart(options: ModeOptions): Promise<ModeResult> {
  await using live = await setUpLive(options);
  const { run, model, writer, agent, sampler } = live;
  const receiver = run.receiver;
  const durationMs = options.durationSec * 1000;
  const killAtMs = Math.round(durationMs * (0.3 + 0.4 * new Prng(mixSeed(options.seed, 0x5eed)).next()));
  options.log(
    `writing for ${options.durationSec} s; SIGKILL at ${killAtMs} ms, down for ${options.downSec} s`,
  );
  const writing = writer.run(durationMs);
  await delay(killAtMs);
  const rotationsBefore = writer.stats.rotations;
  const killedAtNs = modelNowNs(model);
  agent.kill("SIGKILL");
  await agent.exited;
  // Nothing is sent after this: the window of what was in flight ends here (the receiver's clock).
  const exitedAtMs = receiver.nowMs();
  sampler.stop();
  const lastCommitMs = await lastCursorCommitMs(join(run.cursorDir, "cursor.kv"));
  const downAtMs = performance.now();
  const matchedAtKill = receiver.counts().matched;
  // Kubelet rotates while the agent is down: the renamed files' tails must still be found and drained.
  await writer.rotateAll();
  await delay(Math.max(0, options.downSec * 1000 - (performance.now() - downAtMs)));
  const rotationsWhileDown = writer.stats.rotations - rotationsBefore;
  const second = await run.startAgent();
  const restartedAtNs = modelNowNs(model);
  const downSec = (performance.now() - downAtMs) / 1000;
  await writing;
  const writtenAtEnd = performance.now();
  const outcome = await waitUntil(() => receiver.counts().lost === 0, {
    timeoutMs: 180_000,
    stallMs: 45_000,
    progress: () => receiver.counts().received,
    abortOn: second.agent.exited,
  });
  const caughtUpSec = (performance.now() - writtenAtEnd) / 1000;
  await delay(1000);
  second.sampler.stop();
  const exit = await second.agent.stop();
  const counts = receiver.counts();
  const oldDuplicates = receiver.duplicatesWrittenBefore(killedAtNs - 2e9);
  // In flight at the kill: records no cursor commit could cover. Those answered after the agent's last
  // commit began, and those answered just before it whose answer was still on its way (see IN_TRANSIT_MS).
  const inFlight = receiver.firstReceivedBetween(lastCommitMs - IN_TRANSIT_MS, exitedAtMs);
  const duplicatedRequests = receiver.duplicatedRequestTimesMs();
  const latency = receiver.latency();
  const stats = writer.stats;
  const peakRssMiB = mib(Math.max(sampler.latest?.hwmBytes ?? 0, second.sampler.latest?.hwmBytes ?? 0));
  options.log(
    `after restart: ${outcome}; ${counts.matched}/${counts.expected}; duplicated ${counts.duplicated}`,
  );
  return {
    ...(await run.baseResult("restart", model)),
    params: {
      files: options.files[0],
      linesPerSec: options.linesPerSec,
      durationSec: options.durationSec,
      rotateBytes: options.rotateBytes,
      killAtMs,
      seed: options.seed,
    },
    metrics: {
      lost: counts.lost,
      ...classifyLost(model, writer, { fromNs: killedAtNs, toNs: restartedAtNs }),
      duplicated: counts.duplicated,
      // Lines written this long before the kill were delivered (p99 latency ~0.2 s) and their cursor
      // committed (within cursor.flush_interval, 1 s here) before it: none of them should come again.
      duplicatedWrittenOver2sBeforeKill: oldDuplicates,
      duplicatedWrittenOver1sBeforeKill: receiver.duplicatesWrittenBefore(killedAtNs - 1e9),
      inFlightAtKill: inFlight,
      duplicatedRequests: duplicatedRequests.length,
      // How long before the last commit began the oldest duplicated request was answered (negative: after).
      oldestDuplicatedRequestBeforeLastCommitMs: duplicatedRequests.length === 0
        ? 0
        : round(lastCommitMs - duplicatedRequests[0], 1),
      lastCommitBeforeKillMs: round(exitedAtMs - lastCommitMs, 1),
      unexpected: counts.unexpected,
      outOfOrder: counts.outOfOrder,
      resourceMismatch: counts.resourceMismatch,
      matchedBeforeKill: matchedAtKill,
      downSec: round(downSec, 2),
      rotationsWhileDown,
      rotations: stats.rotations,
      gzipped: stats.gzipped,
      catchUpAfterWriterSec: round(caughtUpSec, 2),
      latencyP50Ms: latency.p50Ms,
      latencyP99Ms: latency.p99Ms,
      latencyMaxMs: latency.maxMs,
      peakRssMiB,
      records: counts.expected,
      agentExitCode: exit.code,
    },
    targets: [
      target("lost", "0", String(counts.lost), counts.lost === 0),
      target(
        "duplicates written over 2 s before the kill (acknowledged and committed before it)",
        "0",
        String(oldDuplicates),
        oldDuplicates === 0,
      ),
      target(
        "duplicates <= records in flight at the kill",
        `<= ${inFlight}`,
        String(counts.duplicated),
        counts.duplicated <= inFlight,
      ),
    ],
    notes: [
      "Duplicates are expected: records in flight at the SIGKILL are resent from the cursor",
      ...(outcome === "done" ? [] : [`catch-up wait ended: ${outcome}`]),
    ],
  };
}

/**
 * When the agent's last cursor commit began (epoch ms): the newest `updatedAtMs` in its cursor store, read
 * while the agent is down. Every cursor a commit changes carries that commit's start time.
 */
async function lastCursorCommitMs(path: string): Promise<number> {
  const kv = await Deno.openKv(path);
  try {
    let newest = -Infinity;
    for (const cursor of (await new CursorStore({ kv }).loadAll()).values()) {
      newest = Math.max(newest, cursor.updatedAtMs);
    }
    return newest;
  } finally {
    kv.close();
  }
}
