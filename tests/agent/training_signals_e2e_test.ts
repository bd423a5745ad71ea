import assert from "node:assert/strict";
import { FakeApiServer, makePod, testCerts } from "../_fakes/apiserver.ts";
import type { DecodedResourceMetrics } from "../_fakes/otlp_metrics_decode.ts";
import { startOtlpSink } from "../_fakes/otlp_sink.ts";
import { startHarness } from "../_helpers/agent_harness.ts";
import { freePort, spawnAgent, waitFor } from "../_helpers/agent_process.ts";
import { ContainerLog } from "../_helpers/kubelet_tree.ts";

const DATA = "training.dataloader.data_time_s";
const ITER = "training.dataloader.iter_time_s";

const FORMS: { line: string; data: number | undefined; iter: number | undefined }[] = [
  { line: "step 1 data_time_s=0.012 iter_time_s=0.340 loss=2.1", data: 0.012, iter: 0.34 },
  { line: "data_time: 0.013 iter_time: 0.341", data: 0.013, iter: 0.341 },
  {
    line:
      "Epoch(train)  [1][ 50/1563]  lr: 1.0000e-01  eta: 0:21:36  time: 0.3420  data_time: 0.0140  memory: 9",
    data: 0.014,
    iter: 0.342,
  },
  {
    line: "Epoch 0: 50%| 50/100 [00:05<00:05, 9.80it/s, v_num=0, data_time=0.015, time=0.343]",
    data: 0.015,
    iter: 0.343,
  },
  { line: '{"step": 5, "data_time_s": 0.016, "iter_time_s": 0.344}', data: 0.016, iter: 0.344 },
  { line: "request time: 0.3 and nothing else", data: undefined, iter: undefined },
];

Deno.test("agent adds dataloader timing attributes for every default form and none to other lines", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, { namespace: "ml", pod: "t-0", uid: "u-forms", container: "c" });
  for (const f of FORMS) log.write("stdout", f.line);
  log.close();
  await h.sink.waitForRecords(FORMS.length);
  for (const [i, f] of FORMS.entries()) {
    const isJson = f.line.startsWith("{");
    const r = h.sink.records.find((s) =>
      isJson ? (s.record.body as { step?: number }).step === 5 : s.record.body === f.line
    );
    assert.ok(r !== undefined, `no record for form ${i}`);
    assert.equal(r.record.attributes[DATA], f.data, f.line);
    assert.equal(r.record.attributes[ITER], f.iter, f.line);
  }
  assert.equal(h.agent.metrics.dataloaderMatches.total(), FORMS.length - 1);
});

Deno.test("agent runs a custom dataloader pattern on RE2 only for lines that hold its literal", async () => {
  await using h = await startHarness({
    config: { dataloader: { patterns: [String.raw`loader_wait_s=(?P<data_time_s>\d+\.\d+)`] } },
  });
  const log = new ContainerLog(h.root, { namespace: "ml", pod: "t-1", uid: "u-custom", container: "c" });
  for (let i = 0; i < 200; i++) log.write("stdout", `step ${i} data_time_s=0.1 loss=0.5 wait=3`);
  log.write("stdout", "step 200 loader_wait_s=0.250");
  log.close();
  await h.sink.waitForRecords(201);
  const hit = h.sink.records.find((r) => r.record.body === "step 200 loader_wait_s=0.250")!;
  assert.equal(hit.record.attributes[DATA], 0.25);
  // The default forms are off with a custom list: the 200 data_time_s lines carry nothing.
  assert.equal(h.sink.records.filter((r) => r.record.attributes[DATA] !== undefined).length, 1);
  // The rank pattern runs on the JS engine, so every RE2 call is the dataloader pattern's.
  assert.equal(h.agent.metrics.re2Calls.total(), 1);
});

/** Sums one series of an exposition, by exact label set text (`{job="j",rank="0"}`). */
function seriesValue(text: string, name: string, labels: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}${labels} `)) return Number(line.slice(name.length + labels.length + 1));
  }
  return undefined;
}

// Binary fractions, so sums and ratios are exact.
const RANK_STEPS: [rank: number, data: number, iter: number, steps: number][] = [
  [0, 0.125, 0.5, 3],
  [1, 0.25, 0.5, 2],
  [2, 0.375, 0.5, 1],
  [3, 0.5, 0.5, 1],
];

Deno.test("agent keeps exact per (job, rank) summaries with a series ceiling and rates on /metrics", async () => {
  const certs = await testCerts();
  await using api = await FakeApiServer.start({ tls: true, token: "t0ken" });
  const dir = await Deno.makeTempDir({ prefix: "cso-signals-" });
  try {
    await Deno.writeTextFile(`${dir}/token`, "t0ken");
    await Deno.writeTextFile(`${dir}/ca.crt`, certs.caPem);
    const uid = crypto.randomUUID();
    api.addPod(makePod({
      name: "llm-worker-0",
      namespace: "ml",
      uid,
      labels: { "batch.kubernetes.io/job-name": "llm" },
      ownerReferences: [{ kind: "Job", name: "llm" }],
      containers: [{ name: "trainer", image: "registry.example/trainer:1" }],
    }));
    const port = freePort();
    await using h = await startHarness({
      dir,
      config: {
        node_name: "node-a",
        telemetry: { listen: `127.0.0.1:${port}` },
        signals: { max_rank_series: 2, rate_window: "1s" },
        k8s: {
          mode: "in_cluster",
          api_server: api.url,
          token_path: `${dir}/token`,
          ca_path: `${dir}/ca.crt`,
        },
      },
    });
    await waitFor(() => h.agent.registry.health().isHealthy);
    const log = new ContainerLog(h.root, { namespace: "ml", pod: "llm-worker-0", uid, container: "trainer" });
    let lines = 0;
    for (const [rank, data, iter, steps] of RANK_STEPS) {
      for (let s = 0; s < steps; s++) {
        // torchrun prefixes give each line its rank; the pod's label gives the job.
        log.write("stdout", `[rank${rank}]: step ${s} data_time: ${data} iter_time: ${iter}`);
        lines++;
      }
    }
    log.close();
    await h.sink.waitForRecords(lines);
    const url = `http://127.0.0.1:${port}/metrics`;
    let text = "";
    // Rates close a window on a scrape at least rate_window after the last one.
    await waitFor(async () => {
      text = await (await fetch(url)).text();
      return (seriesValue(
        text,
        "containerstdout_container_lines_per_second",
        '{namespace="ml",pod="llm-worker-0",container="trainer"}',
      ) ?? 0) > 0;
    }, { timeoutMs: 10_000, intervalMs: 300, message: () => text });
    const data = "containerstdout_training_dataloader_data_time_seconds";
    const iter = "containerstdout_training_dataloader_iter_time_seconds";
    const ratio = "containerstdout_training_dataloader_input_bound_ratio";
    assert.equal(seriesValue(text, `${data}_count`, '{job="llm",rank="0"}'), 3);
    assert.equal(seriesValue(text, `${data}_sum`, '{job="llm",rank="0"}'), 0.375);
    assert.equal(seriesValue(text, `${data}_bucket`, '{job="llm",rank="0",le="0.1"}'), 0);
    assert.equal(seriesValue(text, `${data}_bucket`, '{job="llm",rank="0",le="0.25"}'), 3);
    assert.equal(seriesValue(text, `${iter}_sum`, '{job="llm",rank="0"}'), 1.5);
    assert.equal(seriesValue(text, ratio, '{job="llm",rank="0"}'), 0.25);
    assert.equal(seriesValue(text, ratio, '{job="llm",rank="1"}'), 0.5);
    // Ranks 2 and 3 are past the ceiling of 2 series: one other series, and each step counted.
    assert.equal(seriesValue(text, `${data}_count`, '{job="other",rank="other"}'), 2);
    assert.equal(seriesValue(text, `${data}_sum`, '{job="other",rank="other"}'), 0.875);
    assert.equal(seriesValue(text, ratio, '{job="other",rank="other"}'), 0.875);
    assert.equal(seriesValue(text, data + "_count", '{job="llm",rank="2"}'), undefined);
    assert.equal(
      seriesValue(text, "containerstdout_signal_series_overflow_total", '{signal="dataloader"}'),
      2,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function histogramPoint(request: DecodedResourceMetrics[], metric: string, rank: string) {
  return request.flatMap((rm) => rm.metrics).find((m) => m.name === metric)?.points.find((p) =>
    p.attributes["gen_ai.training.rank"] === rank
  );
}

Deno.test("agent process posts the dataloader summaries as OTLP metrics the receiver decodes", async () => {
  await using sink = await startOtlpSink();
  const dir = await Deno.makeTempDir({ prefix: "cso-metrics-" });
  try {
    const root = `${dir}/pods`;
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      [
        `include: ["${root}/*/*/*.log"]`,
        `cursor: { path: "${dir}/cursor/cursor.kv", flush_interval: 100ms }`,
        `exporter: { endpoint: "${sink.url}", metrics: true, metrics_interval: 1s }`,
        `batch: { max_delay: 50ms }`,
        `telemetry: { listen: "" }`,
        `k8s: { mode: "off" }`,
      ].join("\n") + "\n",
    );
    // The production permission set: the metrics serializer is imported lazily under it.
    await using agent = spawnAgent({
      configPath: `${dir}/config.yaml`,
      readPaths: [dir],
      writePaths: [`${dir}/cursor`],
    });
    const log = new ContainerLog(root, { namespace: "ml", pod: "w-0", uid: "u-otlp", container: "c" });
    let lines = 0;
    for (const [rank, data, iter, steps] of RANK_STEPS) {
      for (let s = 0; s < steps; s++, lines++) {
        log.write("stdout", `[rank${rank}]: data_time_s=${data} iter_time_s=${iter}`);
      }
    }
    log.close();
    await sink.waitForRecords(lines, { timeoutMs: 20_000 });
    await sink.waitForMetrics((r) => histogramPoint(r, "training.dataloader.data_time", "3")?.count === 1, {
      timeoutMs: 20_000,
    });
    const request = sink.metricsRequests.findLast((r) =>
      histogramPoint(r, "training.dataloader.data_time", "3") !== undefined
    )!;
    for (const [rank, data, iter, steps] of RANK_STEPS) {
      const d = histogramPoint(request, "training.dataloader.data_time", String(rank))!;
      assert.equal(d.count, steps);
      assert.equal(d.sum, data * steps);
      assert.equal(d.attributes["gen_ai.training.job_id"], "");
      const i = histogramPoint(request, "training.dataloader.iter_time", String(rank))!;
      assert.equal(i.sum, iter * steps);
      const ratio = request.flatMap((rm) => rm.metrics).find((m) =>
        m.name === "training.dataloader.input_bound_ratio"
      )!
        .points.find((p) => p.attributes["gen_ai.training.rank"] === String(rank))!;
      assert.equal(ratio.value, data / iter);
    }
    assert.equal(await agent.stop(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
