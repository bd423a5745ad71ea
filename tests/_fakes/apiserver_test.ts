import assert from "node:assert/strict";
import { FakeApiServer, makePod, testCerts } from "./apiserver.ts";
import { committedTestCerts } from "./certs/test_certs.ts";

async function readLines(response: Response, count: number): Promise<unknown[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const lines: unknown[] = [];
  try {
    while (lines.length < count) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
      let newline = text.indexOf("\n");
      while (newline !== -1) {
        lines.push(JSON.parse(text.slice(0, newline)));
        text = text.slice(newline + 1);
        newline = text.indexOf("\n");
      }
    }
  } finally {
    await reader.cancel();
  }
  return lines;
}

Deno.test("fake apiserver lists only the pods of the selected node", async () => {
  await using server = await FakeApiServer.start();
  server.addPod(makePod({ name: "a", nodeName: "node-a" }));
  server.addPod(makePod({ name: "b", nodeName: "node-b" }));
  const response = await fetch(
    `${server.url}/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&resourceVersion=0`,
  );
  const list = await response.json();
  assert.equal(list.metadata.resourceVersion, server.resourceVersion);
  assert.deepEqual(list.items.map((p: { metadata: { name: string } }) => p.metadata.name), ["a"]);
});

Deno.test("fake apiserver replays history after the watch resourceVersion, then streams", async () => {
  await using server = await FakeApiServer.start({ splitEvents: true });
  const first = server.addPod(makePod({ name: "a" }));
  const rv = server.resourceVersion;
  server.addPod(makePod({ name: "b" }));
  const response = await fetch(
    `${server.url}/api/v1/pods?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`,
  );
  const pending = readLines(response, 3);
  server.deletePod(first.metadata.uid);
  server.bookmark();
  const events = (await pending) as Array<{ type: string; object: { metadata: { name?: string } } }>;
  assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [
    ["ADDED", "b"],
    ["DELETED", "a"],
    ["BOOKMARK", undefined],
  ]);
});

Deno.test("fake apiserver answers 401 to a wrong bearer token", async () => {
  await using server = await FakeApiServer.start({ token: "right" });
  const wrong = await fetch(`${server.url}/api/v1/pods`, { headers: { authorization: "Bearer wrong" } });
  await wrong.body?.cancel();
  const right = await fetch(`${server.url}/api/v1/pods`, { headers: { authorization: "Bearer right" } });
  await right.body?.cancel();
  assert.deepEqual([wrong.status, right.status], [401, 200]);
  assert.equal(server.count("list", 401), 1);
});

Deno.test("fake apiserver serves TLS with a certificate the test CA verifies", async () => {
  await using server = await FakeApiServer.start({ tls: true });
  const certs = await testCerts();
  using client = Deno.createHttpClient({ caCerts: [certs.caPem] });
  const response = await fetch(`${server.url}/api/v1/pods`, { client });
  assert.equal((await response.json()).kind, "PodList");
});

Deno.test("fake apiserver started down refuses connections until up", async () => {
  await using server = await FakeApiServer.start({ startDown: true });
  await assert.rejects(fetch(`${server.url}/api/v1/pods`), TypeError);
  server.up();
  const response = await fetch(`${server.url}/api/v1/pods`);
  assert.equal((await response.json()).kind, "PodList");
});

Deno.test("fake apiserver ends open watches with ERROR 410 when the history is compacted", async () => {
  await using server = await FakeApiServer.start();
  const response = await fetch(`${server.url}/api/v1/pods?watch=1&resourceVersion=${server.resourceVersion}`);
  const pending = readLines(response, 1);
  while (server.openWatches === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  server.goneMidWatch();
  const [event] = (await pending) as Array<{ type: string; object: { code: number } }>;
  assert.equal(event.type, "ERROR");
  assert.equal(event.object.code, 410);
});

Deno.test("committed fallback certificates still verify for 127.0.0.1", async () => {
  const certs = await committedTestCerts();
  await using server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      cert: certs.serverCertPem,
      key: certs.serverKeyPem,
      onListen: () => {},
    },
    () => new Response("ok"),
  );
  using client = Deno.createHttpClient({ caCerts: [certs.caPem] });
  const response = await fetch(`https://127.0.0.1:${server.addr.port}/`, { client });
  assert.equal(await response.text(), "ok");
});
