import { fileChunks } from "/work/main/bench/e2e/backlog.ts";
import { ExpectedModel } from "/work/main/bench/e2e/expected.ts";
import { planTree } from "/work/main/bench/e2e/generator.ts";
import { Receiver } from "/work/main/bench/e2e/receiver.ts";
import { encodeLogsRequest } from "/work/main/src/export/mod.ts";
const files = planTree({ pods: 2, containersPerPod: 2 });
const model = new ExpectedModel(files, 1714564800);
const recs: any[] = [];
const resources = new Map();
const records = new ExpectedModel(files, 1714564800);
// build records through a shadow model by re-generating
for (const f of files) {
  const shadow = {
    add: (i: number, stream: string, t: number, body: string) => {
      model.add(i, stream as any, t, body);
      const sec = 1714564800 + Math.floor(t / 1e9);
      recs.push({
        hrTime: [sec, t % 1e9],
        hrTimeObserved: [sec, 0],
        body,
        attributes: { "log.iostream": stream, "log.file.path": `/x/${f.relPath}` },
        droppedAttributesCount: 0,
        resource: res(f),
        instrumentationScope: { name: "s", version: "1" },
      });
    },
    baseEpochSec: 1714564800,
  } as any;
  const g = fileChunks(f, 50000, {}, shadow);
  for (let n = g.next(); !n.done; n = g.next());
}
function res(f: any) {
  if (!resources.has(f.index)) {
    resources.set(f.index, {
      attributes: {
        "k8s.namespace.name": f.namespace,
        "k8s.pod.name": f.podName,
        "k8s.pod.uid": f.podUid,
        "k8s.container.name": f.containerName,
        "k8s.container.restart_count": f.restartCount,
      },
    });
  }
  return resources.get(f.index);
}
const bodies: ArrayBuffer[] = [];
for (let i = 0; i < recs.length; i += 2048) {
  const bytes = encodeLogsRequest(recs.slice(i, i + 2048));
  bodies.push(
    await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );
}
const receiver = await Receiver.start(model);
const t0 = performance.now();
const c0 = Deno.cpuUsage?.();
for (const body of bodies) {
  const r = await fetch(`${receiver.url}/v1/logs`, {
    method: "POST",
    headers: { "content-encoding": "gzip" },
    body,
  });
  await r.arrayBuffer();
}
const ms = performance.now() - t0;
console.log(
  recs.length,
  "records",
  ms.toFixed(0),
  "ms",
  (ms * 1000 / recs.length).toFixed(2),
  "us/record",
  receiver.counts().matched,
);
await receiver.close();
